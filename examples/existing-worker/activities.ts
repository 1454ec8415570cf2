/** The team's own activities, unchanged. */
export async function greet(name: string): Promise<string> {
  return `Hello, ${name}!`;
}
