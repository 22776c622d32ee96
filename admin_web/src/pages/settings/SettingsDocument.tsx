/**
 * What the two settings documents (prices, model mappings) share: a section that loads the document, says when a
 * save was applied, shows its problem and facts, and renews the content on every fresh read; the admins' editor
 * around its fields (a problem found before saving, the API's error or a 409, Save / Discard); and focusing the row
 * a table's button just added or found.
 */
import { Fragment, useEffect, useId, useState, type FormEvent, type ReactNode } from "react";
import type { ApiClient } from "../../api/client";
import { useApiAction, useApiQuery } from "../../api/hooks";
import { ConflictNotice, isConflict } from "../../components/Conflict";
import { FormError } from "../../components/Field";
import { Loaded } from "../../components/States";
import { DocumentFacts } from "./DocumentFacts";

/** The fields every versioned settings document answers with. */
export interface SettingsDocumentView {
  version: number;
  updated_at: string | null;
  updated_by: string | null;
  refresh_s: number;
  /** Set when the stored document is invalid (and so ignored). */
  problem: string | null;
}

export function SettingsDocumentSection<View extends SettingsDocumentView>({
  title,
  queryKey,
  load,
  loadingLabel,
  appliedAs,
  facts,
  children,
}: {
  title: string;
  queryKey: string;
  load(api: ApiClient): Promise<View>;
  loadingLabel: string;
  /** What every proxy does once a save applies, after "Every proxy …": "charges the new prices". */
  appliedAs: string;
  /** The document's own facts, before version and last change (<dt>/<dd> pairs). */
  facts(view: View): ReactNode;
  children(view: View, on: { saved(view: View): void; reload(): void }): ReactNode;
}) {
  const headingId = useId();
  const query = useApiQuery(queryKey, load);
  // The newest document: as loaded, or as the last save answered. `loads` renews the content on every fresh read.
  const [current, setCurrent] = useState<{ view: View; loads: number }>();
  const [saved, setSaved] = useState<View>();

  useEffect(() => {
    if (query.data) setCurrent((previous) => ({ view: query.data!, loads: (previous?.loads ?? 0) + 1 }));
  }, [query.data]);

  function onSaved(view: View) {
    setSaved(view);
    setCurrent((previous) => ({ view, loads: (previous?.loads ?? 0) + 1 }));
  }

  function reload() {
    setSaved(undefined);
    query.reload();
  }

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      <Loaded query={{ ...query, data: current?.view }} loadingLabel={loadingLabel}>
        {(view) => (
          <>
            {saved && (
              <p className="banner-ok" role="status">
                Saved version {saved.version}. Every proxy {appliedAs} within {Math.round(saved.refresh_s)} seconds.
              </p>
            )}
            {view.problem && (
              <p className="state state-error" role="alert">
                {view.problem}
              </p>
            )}
            <div className="panel">
              <DocumentFacts version={view.version} updatedBy={view.updated_by} updatedAt={view.updated_at} refreshSeconds={view.refresh_s}>
                {facts(view)}
              </DocumentFacts>
            </div>
            <Fragment key={current!.loads}>{children(view, { saved: onSaved, reload })}</Fragment>
          </>
        )}
      </Loaded>
    </section>
  );
}

/** Saving an edited document: a problem found here stops the save; otherwise it is sent, and `onSaved` gets the answer. */
export function useDocumentSave<Input, View>(put: (api: ApiClient, input: Input) => Promise<View>, onSaved: (view: View) => void) {
  const save = useApiAction(put);
  const [localProblem, setLocalProblem] = useState<string>();

  async function submit(problem: string | undefined, input: () => Input) {
    setLocalProblem(problem);
    if (problem) return;
    const answer = await save.run(input());
    if (answer) onSaved(answer);
  }

  function clear() {
    save.clearError();
    setLocalProblem(undefined);
  }

  return { submit, clear, localProblem, error: save.error, pending: save.pending };
}

/** What the end of an editor's form shows of a save. */
export interface SaveState {
  localProblem: string | undefined;
  error: Error | undefined;
  pending: boolean;
  /** Forget the problem and the error (on Discard). */
  clear(): void;
}

/** An admin's editor of a settings document: the fields (children), then the problem or error and Save / Discard. */
export function DocumentEditor({
  title,
  intro,
  beforeForm,
  saving,
  onSubmit,
  shownFields,
  conflict,
  onReload,
  saveLabel,
  dirty,
  onDiscard,
  children,
}: {
  title: string;
  intro: ReactNode;
  /** Anything between the intro and the form (a form of its own). */
  beforeForm?: ReactNode;
  saving: SaveState;
  onSubmit(): void;
  /** The field names shown beside an input, so the form-level message only repeats what is not. */
  shownFields: string[];
  /** For the 409 message: what changed ("the prices") and the reload button's text. */
  conflict: { what: string; reloadLabel: string };
  onReload(): void;
  saveLabel: string;
  dirty: boolean;
  /** Back to the document as loaded. */
  onDiscard(): void;
  children: ReactNode;
}) {
  const headingId = useId();
  const { error, pending, localProblem } = saving;

  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit();
  }

  return (
    <section aria-labelledby={headingId} className="panel">
      <h3 id={headingId} style={{ marginTop: 0 }}>
        {title}
      </h3>
      <p className="muted">{intro}</p>
      {beforeForm}
      <form onSubmit={submit} noValidate aria-labelledby={headingId}>
        {children}
        {localProblem && (
          <p className="form-error" role="alert">
            {localProblem}
          </p>
        )}
        {isConflict(error) ? (
          <ConflictNotice what={conflict.what} reloadLabel={conflict.reloadLabel} error={error} onReload={onReload} />
        ) : (
          <FormError error={error} fields={shownFields} />
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={pending || !dirty}>
            {pending ? "Saving…" : saveLabel}
          </button>
          <button
            type="button"
            disabled={pending || !dirty}
            onClick={() => {
              saving.clear();
              onDiscard();
            }}
          >
            Discard changes
          </button>
          <span className="muted" role="status">
            {dirty ? "Unsaved changes" : ""}
          </span>
        </div>
      </form>
    </section>
  );
}

/** Focus an element by id once it has rendered: the row a table's "Override" or "Change" just added or found. */
export function useFocusOnRender(): (elementId: string) => void {
  const [target, setTarget] = useState<string | null>(null);
  useEffect(() => {
    if (!target) return;
    document.getElementById(target)?.focus();
    setTarget(null);
  }, [target]);
  return setTarget;
}
