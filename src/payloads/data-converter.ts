/** The data converter clients must use to read and write durable-runs payloads. */
export const dataConverter = { payloadConverterPath: require.resolve('../shared/payload-converter') };
