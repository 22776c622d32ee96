/** Users: find one (filters kept in the URL, so a filtered list can be shared or reloaded), or create one. */
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useApiAction, useApiQuery } from "../api/hooks";
import {
  createUser,
  listTeams,
  listUsers,
  ROUTING_MODES,
  routingModeLabel,
  USER_STATUSES,
  type RoutingMode,
  type User,
  type UserCreate,
  type UserFilters,
  type UserStatus,
} from "../api/users";
import { Field, FormError, SelectField } from "../components/Field";
import { Empty, Loaded } from "../components/States";
import { TableWrap } from "../components/TableWrap";
import { Time } from "../components/Time";
import { formatMoney } from "../lib/format";
import { useAttemptKey } from "./user/attempts";
import { UserStatusBadge } from "./user/badges";
import { createBody, formValuesOf, UserForm, type UserFormValues } from "./user/UserForm";

const FILTER_NAMES = ["search", "team", "status", "routing_mode"] as const;
// Typing in Search asks the API once the typing pauses, not once per key.
const SEARCH_DELAY_MS = 300;

/** The filters in the URL; values the API would refuse (a hand-edited link) are ignored. */
function filtersFrom(params: URLSearchParams): Required<UserFilters> {
  const status = params.get("status") ?? "";
  const mode = params.get("routing_mode") ?? "";
  return {
    search: params.get("search")?.trim() ?? "",
    team: params.get("team") ?? "",
    status: USER_STATUSES.some((option) => option.value === status) ? (status as UserStatus) : "",
    routing_mode: ROUTING_MODES.some((option) => option.value === mode) ? (mode as RoutingMode) : "",
  };
}

export default function Users() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const filtered = FILTER_NAMES.some((name) => filters[name] !== "");
  const [creating, setCreating] = useState(false);

  function setFilter(name: (typeof FILTER_NAMES)[number], value: string) {
    setParams(
      (previous) => {
        const next = new URLSearchParams(previous);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  }

  return (
    <>
      <div className="page-header">
        <h1>Users</h1>
        {!creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New user
          </button>
        )}
      </div>
      {creating && <NewUser onCancel={() => setCreating(false)} />}
      <UserFiltersForm filters={filters} onChange={setFilter} onClear={() => setParams(new URLSearchParams(), { replace: true })} />
      <UserList filters={filters} filtered={filtered} onCreate={() => setCreating(true)} onClear={() => setParams(new URLSearchParams(), { replace: true })} />
    </>
  );
}

function UserFiltersForm({
  filters,
  onChange,
  onClear,
}: {
  filters: Required<UserFilters>;
  onChange(name: (typeof FILTER_NAMES)[number], value: string): void;
  onClear(): void;
}) {
  const [search, setSearch] = useState(filters.search);
  const teams = useApiQuery("teams", listTeams);
  const teamNames = teams.data?.items.map((team) => team.team) ?? [];
  // A team from a shared link is offered even before (or without) the team list.
  if (filters.team && !teamNames.includes(filters.team)) teamNames.unshift(filters.team);

  // Refs, so that a re-render for another reason (the team list arriving) does not restart the wait.
  const latest = useRef({ applied: filters.search, onChange });
  latest.current = { applied: filters.search, onChange };
  useEffect(() => {
    if (search.trim() === latest.current.applied) return;
    const timer = setTimeout(() => latest.current.onChange("search", search.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [search]);

  // "Clear filters" (or a link) emptied the search: the box follows.
  useEffect(() => {
    if (filters.search === "") setSearch("");
  }, [filters.search]);

  return (
    <form
      role="search"
      aria-label="Filter users"
      className="filters"
      onSubmit={(event) => {
        event.preventDefault();
        onChange("search", search.trim());
      }}
    >
      <Field label="Search" type="search" value={search} onChange={(event) => setSearch(event.target.value)} placeholder="Name or email" autoComplete="off" />
      <SelectField label="Team" value={filters.team} onChange={(event) => onChange("team", event.target.value)}>
        <option value="">All teams</option>
        {teamNames.map((team) => (
          <option key={team} value={team}>
            {team}
          </option>
        ))}
      </SelectField>
      <SelectField label="Status" value={filters.status} onChange={(event) => onChange("status", event.target.value)}>
        <option value="">Any status</option>
        {USER_STATUSES.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </SelectField>
      <SelectField label="Routing mode" value={filters.routing_mode} onChange={(event) => onChange("routing_mode", event.target.value)}>
        <option value="">Any mode</option>
        {ROUTING_MODES.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </SelectField>
      {FILTER_NAMES.some((name) => filters[name] !== "") && (
        <button type="button" onClick={onClear}>
          Clear filters
        </button>
      )}
    </form>
  );
}

function UserList({
  filters,
  filtered,
  onCreate,
  onClear,
}: {
  filters: Required<UserFilters>;
  filtered: boolean;
  onCreate(): void;
  onClear(): void;
}) {
  const key = JSON.stringify(filters);
  const firstPage = useApiQuery(`users:${key}`, (api) => listUsers(api, filters));
  // Pages after the first, for these filters only: new filters start from the first page again.
  const [more, setMore] = useState<{ key: string; items: User[]; next: string | null } | null>(null);
  const loadMore = useApiAction((api, query: UserFilters, cursor: string) => listUsers(api, query, cursor));
  const extra = more?.key === key ? more : null;
  const caption = filtered ? "Users matching the filters" : "Users";

  return (
    <Loaded query={firstPage} loadingLabel="Loading users…">
      {(page) => {
        const users = [...page.items, ...(extra?.items ?? [])];
        const next = extra ? extra.next : page.next_cursor;
        if (users.length === 0) {
          return filtered ? (
            <Empty>
              <p>
                <strong>No users match</strong>
              </p>
              <p>Try other filters, or clear them.</p>
              <button type="button" onClick={onClear}>
                Clear filters
              </button>
            </Empty>
          ) : (
            <Empty>
              <p>
                <strong>No users yet — create the first</strong>
              </p>
              <p>Then issue them an access key to paste into their shell for Claude Code.</p>
              <button type="button" className="primary" onClick={onCreate}>
                Create the first user
              </button>
            </Empty>
          );
        }
        async function showMore(cursor: string) {
          const answer = await loadMore.run(filters, cursor);
          if (answer) setMore({ key, items: [...(extra?.items ?? []), ...answer.items], next: answer.next_cursor });
        }
        return (
          <>
            <TableWrap label={caption} busy={firstPage.loading}>
              <table>
                <caption className="visually-hidden">{caption}</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Team</th>
                    <th scope="col">Status</th>
                    <th scope="col">Routing mode</th>
                    <th scope="col" className="num">
                      Monthly budget
                    </th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {users.map((user) => (
                    <tr key={user.user_id}>
                      <td>
                        <Link to={`/users/${encodeURIComponent(user.user_id)}`}>{user.name}</Link>
                      </td>
                      <td>{user.email ?? <span className="muted">—</span>}</td>
                      <td>{user.team ?? <span className="muted">—</span>}</td>
                      <td>
                        <UserStatusBadge status={user.status} />
                      </td>
                      <td>{routingModeLabel(user.routing_mode)}</td>
                      <td className="num">{user.budget_usd === null ? <span className="muted">None</span> : formatMoney(user.budget_usd)}</td>
                      <td>
                        <Time iso={user.created_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <div className="actions">
              <span className="muted" role="status">
                {users.length === 1 ? "1 user" : `${users.length} users`}
                {next ? " shown; there are more" : ""}
              </span>
              {next && (
                <button type="button" onClick={() => void showMore(next)} disabled={loadMore.pending}>
                  {loadMore.pending ? "Loading…" : "Load more"}
                </button>
              )}
            </div>
            <FormError error={loadMore.error} fields={[]} />
          </>
        );
      }}
    </Loaded>
  );
}

function NewUser({ onCancel }: { onCancel(): void }) {
  const navigate = useNavigate();
  const heading = useRef<HTMLHeadingElement>(null);
  const attempt = useAttemptKey();
  const create = useApiAction((api, body: UserCreate, key: string) => createUser(api, body, key));

  // The form appears above the list: move focus there, so keyboard and screen-reader users land in it.
  useEffect(() => heading.current?.focus(), []);

  async function submit(values: UserFormValues) {
    const body = createBody(values);
    const user = await create.run(body, attempt.keyFor(body));
    if (user) {
      attempt.succeeded();
      navigate(`/users/${encodeURIComponent(user.user_id)}`);
    }
  }

  return (
    <section className="panel" aria-labelledby="new-user-heading">
      <h2 id="new-user-heading" ref={heading} tabIndex={-1}>
        New user
      </h2>
      <UserForm initial={formValuesOf()} submitLabel="Create user" pending={create.pending} error={create.error} onSubmit={submit} onCancel={onCancel} />
    </section>
  );
}
