/**
 * The failure converter of workers and clients with encryption on: error messages and stack
 * traces travel in the failure's encoded attributes, a payload the encryption codec encrypts,
 * instead of in plain text (the message field then reads "Encoded failure"). Loaded by path, in
 * the workflow sandbox too; without encryption the SDK's default converter is used.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
