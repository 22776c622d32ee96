/**
 * Settings › Model mappings: which Bedrock model answers each model name, and whether that comes from the
 * built-in table, the deployment's setting or the admins' map; admins edit their map.
 */
import { useEffect, useId, useState, type FormEvent } from "react";
import { getModelMappings, putModelMappings, type EffectiveMapping, type MappingSource, type ModelMappingsInput, type ModelMappingsView } from "../../api/admin";
import { useApiAction, useApiQuery } from "../../api/hooks";
import { useIsAdmin } from "../../app/context";
import { Field, FormError, fieldError } from "../../components/Field";
import { Loaded } from "../../components/States";
import { ConflictNotice, isConflict } from "./Conflict";
import { DocumentFacts } from "./DocumentFacts";
import { draftId } from "./priceDraft";
import { TableWrap } from "./TableWrap";

const SOURCE_LABELS: Record<MappingSource, string> = {
  admin: "Admin map",
  settings: "Deployment setting",
  built_in: "Built in",
};

interface MappingRow {
  id: string;
  model: string;
  target: string;
}

function rowsOf(admin: Record<string, string>): MappingRow[] {
  return Object.entries(admin).map(([model, target]) => ({ id: draftId(), model, target }));
}

function mappingsOf(rows: MappingRow[]): Record<string, string> {
  return Object.fromEntries(rows.map((row) => [row.model.trim(), row.target.trim()]));
}

export function MappingsSection() {
  const headingId = useId();
  const query = useApiQuery("model-mappings", getModelMappings);
  const [current, setCurrent] = useState<{ view: ModelMappingsView; loads: number }>();
  const [saved, setSaved] = useState<ModelMappingsView>();

  useEffect(() => {
    if (query.data) setCurrent((previous) => ({ view: query.data!, loads: (previous?.loads ?? 0) + 1 }));
  }, [query.data]);

  function onSaved(view: ModelMappingsView) {
    setSaved(view);
    setCurrent((previous) => ({ view, loads: (previous?.loads ?? 0) + 1 }));
  }

  function reload() {
    setSaved(undefined);
    query.reload();
  }

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Model mappings</h2>
      <Loaded query={{ ...query, data: current?.view }} loadingLabel="Loading model mappings…">
        {(view) => (
          <>
            {saved && (
              <p className="banner-ok" role="status">
                Saved version {saved.version}. Every proxy uses the new mappings within {Math.round(saved.refresh_s)} seconds.
              </p>
            )}
            <MappingsContent key={current!.loads} view={view} onSaved={onSaved} onReload={reload} />
          </>
        )}
      </Loaded>
    </section>
  );
}

function MappingsContent({ view, onSaved, onReload }: { view: ModelMappingsView; onSaved(view: ModelMappingsView): void; onReload(): void }) {
  const isAdmin = useIsAdmin();
  const [rows, setRows] = useState<MappingRow[]>(() => rowsOf(view.admin));
  const [focusId, setFocusId] = useState<string | null>(null);

  useEffect(() => {
    if (!focusId) return;
    document.getElementById(`${focusId}-target`)?.focus();
    setFocusId(null);
  }, [focusId]);

  function change(model: string, target: string) {
    const existing = rows.find((row) => row.model.trim() === model);
    if (existing) {
      setFocusId(existing.id);
      return;
    }
    const added = { id: draftId(), model, target };
    setRows((previous) => [...previous, added]);
    setFocusId(added.id);
  }

  return (
    <>
      {view.problem && (
        <p className="state state-error" role="alert">
          {view.problem}
        </p>
      )}
      <div className="panel">
        <DocumentFacts version={view.version} updatedBy={view.updated_by} updatedAt={view.updated_at} refreshSeconds={view.refresh_s}>
          <dt>Built-in geography</dt>
          <dd>
            <code>{view.geography}</code> inference profiles
          </dd>
        </DocumentFacts>
      </div>
      <EffectiveTable view={view} onChange={isAdmin ? change : undefined} />
      {isAdmin && <MappingsEditor view={view} rows={rows} setRows={setRows} onSaved={onSaved} onReload={onReload} />}
    </>
  );
}

function EffectiveTable({ view, onChange }: { view: ModelMappingsView; onChange?: (model: string, target: string) => void }) {
  if (view.effective.length === 0) return <p className="state state-empty">No model names are mapped.</p>;
  return (
    <TableWrap label="Model mappings" style={{ marginBottom: "1rem" }}>
      <table>
        <caption>Which Bedrock model answers each model name</caption>
        <thead>
          <tr>
            <th scope="col">Model name</th>
            <th scope="col">Bedrock model</th>
            <th scope="col">Foundation model (token counting)</th>
            <th scope="col">Source</th>
            {onChange && (
              <th scope="col">
                <span className="visually-hidden">Change</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {view.effective.map((mapping) => (
            <tr key={mapping.model}>
              <th scope="row">
                <code>{mapping.model}</code>
              </th>
              <td>
                {mapping.bedrock_model_id ? <code>{mapping.bedrock_model_id}</code> : <span className="badge danger">Not available</span>}
                {mapping.problem && (
                  <div className="muted" style={{ fontSize: "0.8rem" }}>
                    {mapping.problem}
                  </div>
                )}
              </td>
              <td>{mapping.foundation_model_id ? <code>{mapping.foundation_model_id}</code> : "—"}</td>
              <td>
                <span className={mapping.source === "admin" ? "badge warn" : "badge muted"}>{SOURCE_LABELS[mapping.source]}</span>
                <Underneath view={view} mapping={mapping} />
              </td>
              {onChange && (
                <td>
                  <button type="button" onClick={() => onChange(mapping.model, mapping.bedrock_model_id ?? "")}>
                    {mapping.source === "admin" ? "Edit" : "Change"}{" "}
                    <span className="visually-hidden">the mapping of {mapping.model}</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

/** What an admin or deployment mapping replaces, so removing it has no surprise. */
function Underneath({ view, mapping }: { view: ModelMappingsView; mapping: EffectiveMapping }) {
  const below =
    mapping.source === "admin"
      ? (view.settings[mapping.model] ?? view.built_in[mapping.model])
      : mapping.source === "settings"
        ? view.built_in[mapping.model]
        : undefined;
  if (!below) return null;
  return (
    <div className="muted" style={{ fontSize: "0.8rem" }}>
      instead of <code>{below}</code>
    </div>
  );
}

function MappingsEditor({
  view,
  rows,
  setRows,
  onSaved,
  onReload,
}: {
  view: ModelMappingsView;
  rows: MappingRow[];
  setRows(update: (rows: MappingRow[]) => MappingRow[]): void;
  onSaved(view: ModelMappingsView): void;
  onReload(): void;
}) {
  const headingId = useId();
  const [localProblem, setLocalProblem] = useState<string>();
  const save = useApiAction((api, input: ModelMappingsInput) => putModelMappings(api, input));
  const error = save.error;
  const filled = rows.filter((row) => row.model.trim() || row.target.trim());
  const dirty = JSON.stringify(mappingsOf(filled)) !== JSON.stringify(view.admin);

  function update(id: string, change: Partial<MappingRow>) {
    setRows((previous) => previous.map((row) => (row.id === id ? { ...row, ...change } : row)));
  }

  function problemBeforeSaving(): string | undefined {
    if (filled.some((row) => !row.model.trim() || !row.target.trim())) return "Every mapping needs a model name and a Bedrock model id.";
    const names = filled.map((row) => row.model.trim());
    if (new Set(names).size !== names.length) return "A model name is listed twice: keep one mapping for it.";
    return undefined;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problem = problemBeforeSaving();
    setLocalProblem(problem);
    if (problem) return;
    const answer = await save.run({ version: view.version, mappings: mappingsOf(filled) });
    if (answer) onSaved(answer);
  }

  return (
    <section aria-labelledby={headingId} className="panel">
      <h3 id={headingId} style={{ marginTop: 0 }}>
        Edit admin mappings
      </h3>
      <p className="muted">
        The admin map wins over the deployment's setting and the built-in table. A target is a Bedrock model id,
        inference-profile id or ARN. The proxy's own role may call only the models granted at deploy time; a new target
        works at once for users with their own Bedrock credentials.
      </p>
      <form onSubmit={submit} noValidate aria-labelledby={headingId}>
        {rows.length === 0 && <p className="muted">No admin mappings: the deployment's and the built-in ones apply.</p>}
        {rows.map((row) => (
          <div className="form-row" key={row.id}>
            <Field label="Model name" value={row.model} onChange={(event) => update(row.id, { model: event.target.value })} spellCheck={false} autoComplete="off" />
            <Field
              id={`${row.id}-target`}
              label="Bedrock model id"
              value={row.target}
              onChange={(event) => update(row.id, { target: event.target.value })}
              spellCheck={false}
              autoComplete="off"
              error={row.model.trim() ? fieldError(error, `mappings.${row.model.trim()}`) : undefined}
            />
            <div className="field" style={{ flex: "0 0 auto", alignSelf: "flex-end" }}>
              <button type="button" onClick={() => setRows((previous) => previous.filter((each) => each.id !== row.id))}>
                Remove{" "}
                <span className="visually-hidden">the mapping of {row.model || "this model"}</span>
              </button>
            </div>
          </div>
        ))}
        <button type="button" onClick={() => setRows((previous) => [...previous, { id: draftId(), model: "", target: "" }])}>
          Add a mapping
        </button>
        {localProblem && (
          <p className="form-error" role="alert">
            {localProblem}
          </p>
        )}
        {isConflict(error) ? (
          <ConflictNotice what="model mappings" error={error} onReload={onReload} />
        ) : (
          <FormError error={error} fields={filled.map((row) => `mappings.${row.model.trim()}`)} />
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={save.pending || !dirty}>
            {save.pending ? "Saving…" : "Save model mappings"}
          </button>
          <button
            type="button"
            disabled={save.pending || !dirty}
            onClick={() => {
              save.clearError();
              setLocalProblem(undefined);
              setRows(() => rowsOf(view.admin));
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
