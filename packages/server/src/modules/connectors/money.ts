// Provider amounts as our Money: integer minor units in each currency's ISO 4217 exponent (JPY 0, USD 2,
// KWD 3, CLF 4). Providers send decimal strings ("19.99") or numbers; the conversion is exact, digit by digit,
// and refuses anything it would have to round, because a cent lost on the way in is never found again.

import type { Money } from '@pos/contracts/money'
import type { Static } from 'typebox'

export type MoneyValue = Static<typeof Money>

/** The currencies whose minor unit is not 2 (ISO 4217 list one); every other active code has 2. */
const EXPONENT_NOT_TWO: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
}

/** The active codes with two decimals. Funds and precious metals without a minor unit (XAU, XDR...) are absent. */
const EXPONENT_TWO =
  `AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ
GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP
MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG
SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD
XCG YER ZAR ZMW ZWG`.split(/\s+/)

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...Object.entries(EXPONENT_NOT_TWO),
  ...EXPONENT_TWO.map((code) => [code, 2] as const),
])

/** Why an amount could not become minor units; the message names the value and the currency. */
export class MoneyConversionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MoneyConversionError'
  }
}

/** The ISO 4217 exponent of an active currency (digits after the decimal point), or undefined if unknown. */
export function currencyExponent(currency: string): number | undefined {
  return EXPONENTS.get(currency)
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/
const MAX_MINOR = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * Exact minor units of a decimal string in `currency`: "19.99" USD is 1999, "1000" JPY is 1000, "-0.5" KWD
 * is -500. Decimals beyond the currency's exponent are accepted only when they are zeros ("1000.00" JPY):
 * anything else would have to be rounded, and is refused, as are exponents, signs other than a leading
 * minus, separators and amounts beyond ±2^53 - 1 minor units.
 */
export function minorUnits(decimal: string, currency: string): number {
  const exponent = currencyExponent(currency)
  if (exponent === undefined) throw new MoneyConversionError(`unknown currency ${JSON.stringify(currency)}`)
  const match = DECIMAL.exec(decimal)
  if (match === null) {
    throw new MoneyConversionError(`${JSON.stringify(decimal)} is not a decimal amount`)
  }
  const [, sign, whole, fraction = ''] = match as unknown as [string, string, string, string | undefined]
  const kept = fraction.slice(0, exponent)
  if (/[^0]/.test(fraction.slice(exponent))) {
    throw new MoneyConversionError(
      `${decimal} ${currency} has more than ${exponent} decimal${exponent === 1 ? '' : 's'}: it would have to be rounded`,
    )
  }
  const magnitude = BigInt(whole + kept.padEnd(exponent, '0'))
  if (magnitude > MAX_MINOR) throw new MoneyConversionError(`${decimal} ${currency} is too large`)
  const units = Number(magnitude)
  return sign === '-' && units !== 0 ? -units : units
}

/**
 * Minor units of a number that a provider sent as JSON (e.g. a refund line's `subtotal`): its shortest decimal
 * form, as JavaScript prints it, is converted exactly; a binary artefact such as 0.30000000000000004 is refused.
 */
export function minorUnitsOfNumber(value: number, currency: string): number {
  if (!Number.isFinite(value)) throw new MoneyConversionError(`${value} is not an amount`)
  // String() prints large integers and tiny fractions with an exponent; a safe integer prints without one.
  const decimal = Number.isInteger(value) ? BigInt(value).toString() : String(value)
  if (decimal.includes('e')) {
    throw new MoneyConversionError(`${value} ${currency} has too many decimals: it would have to be rounded`)
  }
  return minorUnits(decimal, currency)
}

/** A decimal string as Money in `currency`. */
export function money(decimal: string, currency: string): MoneyValue {
  return { amount: minorUnits(decimal, currency), currency }
}
