// The adapter contracts, for the SDK's own tests and for anyone writing an adapter of their own.
export { type ContractCheck, ContractViolation, expectEqual, expectRejects, expectThat } from './contract.js'
export { type QueueStoreHarness, queueStoreContract, sampleEvent } from './queue-store-contract.js'
export { type SecureStoreHarness, secureStoreContract } from './secure-store-contract.js'
