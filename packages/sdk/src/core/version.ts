// The SDK's own version, embedded in the code (a test holds it equal to package.json's), so every platform
// knows it without reading files: the remote configuration's minSdkVersion is compared with it.
export const SDK_VERSION = '0.1.0'
