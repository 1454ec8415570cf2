/**
 * The workflow bundle: durable-runs' workflows, converters and (with encryption) failure converter,
 * packed by the SDK's webpack bundler into the one file a worker's sandbox loads.
 *
 * `npm run build` writes them beside the compiled code (`lib/bundles/workflows.js` and
 * `lib/bundles/workflows-encrypted.js`); a worker then starts without webpack. Without them (running
 * from the TypeScript sources) the worker bundles at start, with the bundler's output kept below
 * warnings.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { encryptedFailureConverterPath } from './encryption';

export const workflowsPath = require.resolve('./workflows');
export const payloadConverterPath = require.resolve('./shared/worker-payload-converter');

/** Where `npm run build` writes the prebuilt bundle, next to this module's compiled file. */
export function prebuiltBundlePath(encrypted: boolean, dir = __dirname): string {
  return join(dir, 'bundles', encrypted ? 'workflows-encrypted.js' : 'workflows.js');
}

/** The prebuilt bundle when this module runs from a build that has one. */
export function prebuiltBundle(encrypted: boolean): { codePath: string } | undefined {
  const codePath = prebuiltBundlePath(encrypted);
  return existsSync(codePath) ? { codePath } : undefined;
}

/** Bundles the workflows now (webpack, a few seconds); the bundler logs only warnings and errors. */
export function buildWorkflowBundle(encrypted: boolean): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    payloadConverterPath,
    ...(encrypted ? { failureConverterPath: encryptedFailureConverterPath } : {}),
    logger: new DefaultLogger('WARN'),
  });
}

/** `npm run build`: writes both bundles (plain and encrypted) beside the compiled code. */
export async function writeWorkflowBundles(dir = __dirname): Promise<string[]> {
  const written: string[] = [];
  for (const encrypted of [false, true]) {
    const { code } = await buildWorkflowBundle(encrypted);
    const path = prebuiltBundlePath(encrypted, dir);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, code);
    written.push(path);
  }
  return written;
}
