/**
 * Settings › Model mappings: which Bedrock model answers each model name, and whether that comes from the
 * built-in table, the deployment's setting or the admins' map; admins edit their map.
 */
import { useState } from "react";
import { getModelMappings, putModelMappings, type EffectiveMapping, type MappingSource, type ModelMappingsView } from "../../api/admin";
import { useIsAdmin } from "../../app/context";
import { Field, fieldError } from "../../components/Field";
import { TableWrap } from "../../components/TableWrap";
import { draftId } from "./priceDraft";
import { DocumentEditor, SettingsDocumentSection, useDocumentSave, useFocusOnRender } from "./SettingsDocument";

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
  return (
    <SettingsDocumentSection
      title="Model mappings"
      queryKey="model-mappings"
      load={getModelMappings}
      loadingLabel="Loading model mappings…"
      appliedAs="uses the new mappings"
      facts={(view) => (
        <>
          <dt>Built-in geography</dt>
          <dd>
            <code>{view.geography}</code> inference profiles
          </dd>
        </>
      )}
    >
      {(view, on) => <MappingsContent view={view} onSaved={on.saved} onReload={on.reload} />}
    </SettingsDocumentSection>
  );
}

function MappingsContent({ view, onSaved, onReload }: { view: ModelMappingsView; onSaved(view: ModelMappingsView): void; onReload(): void }) {
  const isAdmin = useIsAdmin();
  const [rows, setRows] = useState<MappingRow[]>(() => rowsOf(view.admin));
  const focusOnRender = useFocusOnRender();

  function change(model: string, target: string) {
    const existing = rows.find((row) => row.model.trim() === model);
    if (existing) {
      focusOnRender(`${existing.id}-target`);
      return;
    }
    const added = { id: draftId(), model, target };
    setRows((previous) => [...previous, added]);
    focusOnRender(`${added.id}-target`);
  }

  return (
    <>
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
  const saving = useDocumentSave(putModelMappings, onSaved);
  const error = saving.error;
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

  function submit() {
    void saving.submit(problemBeforeSaving(), () => ({ version: view.version, mappings: mappingsOf(filled) }));
  }

  return (
    <DocumentEditor
      title="Edit admin mappings"
      intro={
        <>
          The admin map wins over the deployment's setting and the built-in table. A target is a Bedrock model id,
          inference-profile id or ARN. The proxy's own role may call only the models granted at deploy time; a new target
          works at once for users with their own Bedrock credentials.
        </>
      }
      saving={saving}
      onSubmit={submit}
      shownFields={filled.map((row) => `mappings.${row.model.trim()}`)}
      conflict={{ what: "the model mappings", reloadLabel: "Reload model mappings" }}
      onReload={onReload}
      saveLabel="Save model mappings"
      dirty={dirty}
      onDiscard={() => setRows(() => rowsOf(view.admin))}
    >
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
    </DocumentEditor>
  );
}
