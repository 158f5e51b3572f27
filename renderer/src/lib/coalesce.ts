/**
 * Wraps an async refresh so that overlapping requests collapse: while one run is in flight, any number of further
 * requests cause exactly one more run after it (so the last request always sees fresh data).
 */
export function coalesce(run: () => Promise<void>): () => Promise<void> {
  let current: Promise<void> | null = null;
  let again = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        await run();
      } while (again);
    } finally {
      current = null;
    }
  };
  return () => {
    if (current) {
      again = true;
      return current;
    }
    current = loop();
    return current;
  };
}
