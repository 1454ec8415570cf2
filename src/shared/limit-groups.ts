/**
 * Names of limit groups and their task queues (see src/limits/groups.ts). Sandbox-safe: the
 * workflow schedules a limited runner's steps on its group's queue with it.
 */

/** What a group's name may be: it becomes part of a task queue name and a CLI argument. */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Why `name` cannot name a limit group, if it cannot. */
export function groupNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a limit group's name must be a string, got ${typeof name}`;
  if (!GROUP_NAME.test(name)) {
    return `limit group ${JSON.stringify(name)}: a group's name is 1–63 letters, digits, "-" or "_", starting with a letter or digit`;
  }
  return undefined;
}

/** The activity task queue of `group`'s steps. */
export function limitQueue(taskQueue: string, group: string): string {
  return `${taskQueue}.limit.${group}`;
}
