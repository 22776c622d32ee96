/**
 * Audit log: every change an admin made (who, what, when, before and after), newest first, filtered by actor
 * and target; the filters live in the URL so a link to "everything done to this user" can be shared.
 */
import { useId, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import type { AuditEntry, AuditFilters } from "../api/admin";
import { Field } from "../components/Field";
import { Empty, ErrorState, Loaded } from "../components/States";
import { TableWrap } from "../components/TableWrap";
import { Time } from "../components/Time";
import { changesOf, shortValue } from "./audit/changes";
import { useAuditLog } from "./audit/useAuditLog";

const FILTER_NAMES = ["actor", "target_type", "target_id"] as const;

// What the API records changes to (overspill.admin.*: audit.record(..., target_type, ...)).
const TARGET_TYPES = ["user", "key", "credentials", "breaker", "team", "pricing", "model_mappings", "export"];

/** Targets whose id is a user id: they link to that user's page. */
const USER_TARGETS = new Set(["user", "credentials", "breaker"]);

/** Changes shown in the table before "and N more" (all of them are in the entry's details). */
const SHOWN_CHANGES = 5;

function useAuditFilters(): [AuditFilters, (filters: AuditFilters) => void] {
  const [params, setParams] = useSearchParams();
  const filters: AuditFilters = {};
  for (const name of FILTER_NAMES) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  function setFilters(next: AuditFilters) {
    const updated = new URLSearchParams(params);
    for (const name of FILTER_NAMES) {
      const value = next[name]?.trim();
      if (value) updated.set(name, value);
      else updated.delete(name);
    }
    setParams(updated);
  }
  return [filters, setFilters];
}

export default function Audit() {
  const [filters, setFilters] = useAuditFilters();
  const log = useAuditLog(filters);
  const filtered = Object.keys(filters).length > 0;

  return (
    <>
      <div className="page-header">
        <h1>Audit log</h1>
      </div>
      <p className="muted">
        Every change made through the admin API, newest first: who made it, when, and the state before and after (secrets
        masked). Nobody can change or delete these entries.
      </p>
      {/* Keyed by the URL's filters: the inputs follow back/forward navigation. */}
      <FilterForm key={JSON.stringify(filters)} filters={filters} onApply={setFilters} />
      <Loaded query={{ ...log.first, data: log.items }} loadingLabel="Loading the audit log…">
        {(items) =>
          items.length === 0 ? (
            <Empty>
              {filtered ? (
                <>
                  <p>No entries match these filters.</p>
                  <button type="button" onClick={() => setFilters({})}>
                    Clear filters
                  </button>
                </>
              ) : (
                <p>Nothing has been changed yet. Every change an admin makes (users, keys, budgets, prices, mappings, exports) appears here.</p>
              )}
            </Empty>
          ) : (
            <>
              <AuditTable items={items} onFilter={(next) => setFilters({ ...filters, ...next })} />
              <div className="actions">
                <span className="muted" role="status">
                  {items.length} {items.length === 1 ? "entry" : "entries"}
                  {log.nextCursor ? ", newest first; older ones follow" : ""}
                </span>
                {log.nextCursor && (
                  <button type="button" onClick={() => void log.loadMore()} disabled={log.loadingMore}>
                    {log.loadingMore ? "Loading…" : "Load more"}
                  </button>
                )}
              </div>
              {log.moreError && <ErrorState error={log.moreError} onRetry={() => void log.loadMore()} />}
            </>
          )
        }
      </Loaded>
    </>
  );
}

function FilterForm({ filters, onApply }: { filters: AuditFilters; onApply(filters: AuditFilters): void }) {
  const [draft, setDraft] = useState<AuditFilters>(filters);
  const typesId = useId();
  const active = Object.keys(filters).length > 0;

  function submit(event: FormEvent) {
    event.preventDefault();
    onApply(draft);
  }

  return (
    <form className="filters" onSubmit={submit} role="search" aria-label="Filter the audit log">
      <Field label="Actor" value={draft.actor ?? ""} onChange={(event) => setDraft({ ...draft, actor: event.target.value })} autoComplete="off" spellCheck={false} />
      <Field
        label="Target type"
        list={typesId}
        value={draft.target_type ?? ""}
        onChange={(event) => setDraft({ ...draft, target_type: event.target.value })}
        autoComplete="off"
        spellCheck={false}
      />
      <datalist id={typesId}>
        {TARGET_TYPES.map((type) => (
          <option key={type} value={type} />
        ))}
      </datalist>
      <Field label="Target id" value={draft.target_id ?? ""} onChange={(event) => setDraft({ ...draft, target_id: event.target.value })} autoComplete="off" spellCheck={false} />
      <div className="actions" style={{ marginTop: 0 }}>
        <button type="submit" className="primary">
          Apply filters
        </button>
        {active && (
          <button type="button" onClick={() => onApply({})}>
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}

function AuditTable({ items, onFilter }: { items: AuditEntry[]; onFilter(filters: AuditFilters): void }) {
  return (
    <TableWrap label="Audit entries">
      <table>
        <caption className="visually-hidden">Audit entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Changes</th>
          </tr>
        </thead>
        <tbody>
          {items.map((entry) => (
            <tr key={entry.entry_id}>
              <td>
                <Time iso={entry.at} />
              </td>
              <td>
                <button type="button" onClick={() => onFilter({ actor: entry.actor })} title="Show only this actor's changes" style={LINK_BUTTON}>
                  {entry.actor}
                </button>
              </td>
              <td>
                <code>{entry.action}</code>
              </td>
              <td>
                <Target entry={entry} />
              </td>
              <td>
                <Changes entry={entry} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

// The actor filter is a button (it changes the page's state) that reads as the name it is.
const LINK_BUTTON = { background: "none", border: 0, padding: 0, color: "var(--accent)", textDecoration: "underline", cursor: "pointer" } as const;

/** The user an entry is about, if any: the target itself, or a key's owner as its recorded state names. */
function userOf(entry: AuditEntry): string | null {
  if (USER_TARGETS.has(entry.target_type)) return entry.target_id;
  const state = entry.after ?? entry.before;
  return entry.target_type === "key" && typeof state?.user_id === "string" ? state.user_id : null;
}

function Target({ entry }: { entry: AuditEntry }) {
  const user = userOf(entry);
  const userLink = user ? <Link to={`/users/${encodeURIComponent(user)}`}>{user}</Link> : null;
  return (
    <>
      <span className="badge muted">{entry.target_type}</span>{" "}
      {USER_TARGETS.has(entry.target_type) && userLink ? userLink : <code>{entry.target_id ?? "—"}</code>}
      {userLink && !USER_TARGETS.has(entry.target_type) && <div style={{ fontSize: "0.85rem" }}>of {userLink}</div>}
    </>
  );
}

function Changes({ entry }: { entry: AuditEntry }) {
  const changes = changesOf(entry.before, entry.after);
  const shown = changes.slice(0, SHOWN_CHANGES);
  const what = entry.before === null && entry.after !== null ? "Created" : entry.after === null && entry.before !== null ? "Removed" : null;
  return (
    <>
      {what && <div className="muted">{what}</div>}
      {changes.length === 0 ? (
        <span className="muted">No field changed</span>
      ) : (
        <ul style={{ margin: 0, paddingLeft: "1.1rem" }}>
          {shown.map((change) => (
            <li key={change.path}>
              <code>{change.path}</code>:{" "}
              {what === "Created" ? (
                <span>{shortValue(change.after)}</span>
              ) : (
                <>
                  <Value value={change.before} as="del" /> → <Value value={change.after} as="ins" />
                </>
              )}
            </li>
          ))}
          {changes.length > shown.length && <li className="muted">and {changes.length - shown.length} more</li>}
        </ul>
      )}
      <details>
        <summary>Before and after</summary>
        <div style={{ display: "flex", flexWrap: "wrap", gap: "0.5rem" }}>
          <div>
            <strong>Before</strong>
            <pre style={PRE}>{entry.before === null ? "(nothing)" : JSON.stringify(entry.before, null, 2)}</pre>
          </div>
          <div>
            <strong>After</strong>
            <pre style={PRE}>{entry.after === null ? "(nothing)" : JSON.stringify(entry.after, null, 2)}</pre>
          </div>
        </div>
        {entry.request_id && (
          <p className="muted" style={{ fontSize: "0.85rem" }}>
            Request id <code>{entry.request_id}</code>
          </p>
        )}
      </details>
    </>
  );
}

/** One side of a change; an absent field is a dash, neither struck out nor marked as inserted. */
function Value({ value, as: Tag }: { value: unknown; as: "del" | "ins" }) {
  if (value === undefined) return <span className="muted">—</span>;
  return <Tag style={Tag === "del" ? { color: "var(--muted)" } : { textDecoration: "none", fontWeight: 600 }}>{shortValue(value)}</Tag>;
}

const PRE = { overflowX: "auto", maxWidth: "40rem", fontSize: "0.8rem", margin: "0.25rem 0" } as const;
