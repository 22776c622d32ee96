import { useCallback, useEffect, useRef, useState } from "react";
import { useServices } from "../app/context";
import type { ApiClient } from "./client";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Load again (after a change, or from an error state's "Try again"). */
  reload(): void;
}

/**
 * Loads `load(api)` when `key` changes (the inputs that matter, as a string); the newest answer wins, an older one
 * arriving late is dropped.
 */
export function useApiQuery<T>(key: string | null, load: (api: ApiClient) => Promise<T>): Loaded<T> {
  const { api } = useServices();
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: key !== null });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) {
      setState({ loading: false });
      return;
    }
    let current = true;
    setState((previous) => ({ data: previous.data, loading: true }));
    loadRef.current(api).then(
      (data) => current && setState({ data, loading: false }),
      (error: Error) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [api, key, generation]);

  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs one change (a click, a form); `pending` disables the control, `error` is shown beside it. */
export function useApiAction<A extends unknown[], T>(action: (api: ApiClient, ...args: A) => Promise<T>) {
  const { api } = useServices();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  // The latest render's action: a form's action reads its current state, not the first render's.
  const actionRef = useRef(action);
  actionRef.current = action;
  const run = useCallback(
    async (...args: A): Promise<T | undefined> => {
      setPending(true);
      setError(undefined);
      try {
        return await actionRef.current(api, ...args);
      } catch (caught) {
        setError(caught as Error);
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [api],
  );
  return { run, pending, error, clearError: () => setError(undefined) };
}
