import { useRef } from "react";
import { idempotencyKey } from "../../api/client";

/**
 * One Idempotency-Key per attempt at a create: repeating the same request (a double click, a retry after a lost
 * answer) reuses the key, so the API makes one user or key and replays its answer; a changed request gets a new
 * key, because the API refuses a key reused for another body. `succeeded()` ends the attempt.
 */
export function useAttemptKey() {
  const last = useRef<{ request: string; key: string } | null>(null);
  return {
    keyFor(request: unknown): string {
      const text = JSON.stringify(request ?? null);
      if (last.current?.request !== text) last.current = { request: text, key: idempotencyKey()["Idempotency-Key"] };
      return last.current.key;
    },
    succeeded() {
      last.current = null;
    },
  };
}
