/**
 * The worker's payload converter (workflow sandbox and activities): never throws while reading.
 * See `LenientPayloadConverter`.
 */
export { lenientPayloadConverter as payloadConverter } from './payload-converter';
