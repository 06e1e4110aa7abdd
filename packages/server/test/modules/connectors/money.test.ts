import { describe, expect, it } from 'vitest'
import {
  currencyExponent,
  MoneyConversionError,
  minorUnits,
  minorUnitsOfNumber,
  money,
} from '../../../src/modules/connectors/money.js'

describe('currency exponents', () => {
  it('follow ISO 4217: JPY 0, USD 2, the dinars 3, CLF 4', () => {
    expect(currencyExponent('JPY')).toBe(0)
    expect(currencyExponent('KRW')).toBe(0)
    expect(currencyExponent('USD')).toBe(2)
    expect(currencyExponent('EUR')).toBe(2)
    for (const code of ['KWD', 'BHD', 'JOD', 'OMR', 'TND', 'LYD', 'IQD'])
      expect(currencyExponent(code)).toBe(3)
    expect(currencyExponent('CLF')).toBe(4)
  })

  it('know no code outside the active list', () => {
    expect(currencyExponent('XXX')).toBeUndefined()
    expect(currencyExponent('XAU')).toBeUndefined()
    expect(currencyExponent('usd')).toBeUndefined()
  })
})

describe('decimal strings to minor units', () => {
  it('are exact in USD, including amounts floats get wrong', () => {
    expect(minorUnits('19.99', 'USD')).toBe(1999)
    expect(minorUnits('0.07', 'USD')).toBe(7)
    expect(minorUnits('1000', 'USD')).toBe(100000)
    expect(minorUnits('4.35', 'USD')).toBe(435) // 4.35 * 100 is 434.99999999999994 in floating point
    expect(minorUnits('1.1', 'USD')).toBe(110)
  })

  it('use no decimals in JPY and three in KWD', () => {
    expect(minorUnits('1000', 'JPY')).toBe(1000)
    expect(minorUnits('1000.00', 'JPY')).toBe(1000)
    expect(minorUnits('12.345', 'KWD')).toBe(12345)
    expect(minorUnits('0.5', 'KWD')).toBe(500)
    expect(minorUnits('1.2345', 'CLF')).toBe(12345)
  })

  it('keep the sign of negative amounts, and never give -0', () => {
    expect(minorUnits('-0.5', 'USD')).toBe(-50)
    expect(minorUnits('-12.345', 'KWD')).toBe(-12345)
    expect(Object.is(minorUnits('-0.00', 'USD'), 0)).toBe(true)
  })

  it('refuse to round', () => {
    expect(() => minorUnits('19.999', 'USD')).toThrow(/more than 2 decimals: it would have to be rounded/)
    expect(() => minorUnits('100.5', 'JPY')).toThrow(/more than 0 decimals/)
    expect(() => minorUnits('1.2345', 'KWD')).toThrow(/more than 3 decimals/)
    expect(minorUnits('19.9900', 'USD')).toBe(1999)
  })

  it('refuse what is not a plain decimal', () => {
    for (const value of [
      '',
      'abc',
      '1,50',
      '1e3',
      '+1',
      '.5',
      '5.',
      ' 1',
      '1 ',
      '--1',
      '0x10',
      'NaN',
      'Infinity',
    ]) {
      expect(() => minorUnits(value, 'USD'), value).toThrow(MoneyConversionError)
    }
    expect(() => minorUnits('abc', 'USD')).toThrow('"abc" is not a decimal amount')
  })

  it('refuse unknown currencies and amounts beyond the safe integers', () => {
    expect(() => minorUnits('1', 'XXX')).toThrow('unknown currency "XXX"')
    expect(minorUnits('90071992547409.91', 'USD')).toBe(Number.MAX_SAFE_INTEGER)
    expect(() => minorUnits('90071992547409.92', 'USD')).toThrow(/too large/)
    expect(() => minorUnits('-90071992547409.92', 'USD')).toThrow(/too large/)
  })

  it('give Money', () => {
    expect(money('-3.10', 'EUR')).toEqual({ amount: -310, currency: 'EUR' })
  })
})

describe('numbers to minor units', () => {
  it('convert their shortest decimal form exactly', () => {
    expect(minorUnitsOfNumber(195.66, 'USD')).toBe(19566)
    expect(minorUnitsOfNumber(4.35, 'USD')).toBe(435)
    expect(minorUnitsOfNumber(-0.5, 'KWD')).toBe(-500)
    expect(minorUnitsOfNumber(1000, 'JPY')).toBe(1000)
  })

  it('refuse binary artefacts, tiny fractions and non-finite values', () => {
    expect(() => minorUnitsOfNumber(0.1 + 0.2, 'USD')).toThrow(/rounded/)
    expect(() => minorUnitsOfNumber(1e-7, 'USD')).toThrow(/rounded/)
    expect(() => minorUnitsOfNumber(Number.NaN, 'USD')).toThrow(MoneyConversionError)
    expect(() => minorUnitsOfNumber(Number.POSITIVE_INFINITY, 'USD')).toThrow(MoneyConversionError)
    expect(() => minorUnitsOfNumber(1e21, 'USD')).toThrow(/too large/)
  })
})
