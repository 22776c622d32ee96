/** The user's details as a form: the same fields to create a user and to change one. */
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { useApiQuery } from "../../api/hooks";
import { listTeams, ROUTING_MODES, type RoutingMode, type User, type UserCreate, type UserUpdate } from "../../api/users";
import { Field, fieldError, FormError, SelectField } from "../../components/Field";

export interface UserFormValues {
  name: string;
  email: string;
  team: string;
  cost_center: string;
  routing_mode: RoutingMode;
  budget_usd: string;
}

/** The request fields this form edits: the API's field errors for these are shown beside them. */
export const USER_FORM_FIELDS = ["name", "email", "team", "cost_center", "routing_mode", "budget_usd"] as const;

type OptionalField = "email" | "team" | "cost_center" | "budget_usd";
const OPTIONAL_FIELDS: OptionalField[] = ["email", "team", "cost_center", "budget_usd"];

export function formValuesOf(user?: User): UserFormValues {
  return {
    name: user?.name ?? "",
    email: user?.email ?? "",
    team: user?.team ?? "",
    cost_center: user?.cost_center ?? "",
    routing_mode: user?.routing_mode ?? "plan_first",
    budget_usd: user?.budget_usd ?? "",
  };
}

/** A new user: blank optional fields are left out (no email, no team, no budget). */
export function createBody(values: UserFormValues): UserCreate {
  const body: UserCreate = { name: values.name.trim(), routing_mode: values.routing_mode };
  for (const field of OPTIONAL_FIELDS) {
    const value = values[field].trim();
    if (value) body[field] = value;
  }
  return body;
}

/** A change: only what differs from the user as read, with the version read; a cleared field is sent as null. */
export function updateBody(user: User, values: UserFormValues): UserUpdate {
  const body: UserUpdate = { version: user.version };
  if (values.name.trim() !== user.name) body.name = values.name.trim();
  if (values.routing_mode !== user.routing_mode) body.routing_mode = values.routing_mode;
  for (const field of OPTIONAL_FIELDS) {
    const value = values[field].trim() || null;
    if (value !== user[field]) body[field] = value;
  }
  return body;
}

export function UserForm({
  initial,
  submitLabel,
  pending,
  error,
  onSubmit,
  onCancel,
  notice,
}: {
  initial: UserFormValues;
  submitLabel: string;
  pending: boolean;
  error: Error | undefined;
  onSubmit(values: UserFormValues): void;
  onCancel(): void;
  /** Shown above the buttons instead of the form-level error (a conflict with its own way out). */
  notice?: ReactNode;
}) {
  const [values, setValues] = useState(initial);
  const teamsListId = useId();
  // Suggestions only: a new team name is just as valid, so a failure to list teams is not worth a message.
  const teams = useApiQuery("teams", listTeams);

  function set<K extends keyof UserFormValues>(field: K) {
    return (event: { target: { value: string } }) => setValues((previous) => ({ ...previous, [field]: event.target.value as UserFormValues[K] }));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!pending) onSubmit(values);
  }

  return (
    // noValidate: the API is the one judge of what is valid, and its messages appear beside the fields.
    <form onSubmit={submit} noValidate>
      <div className="form-row">
        <Field label="Name" value={values.name} onChange={set("name")} required autoComplete="off" error={fieldError(error, "name")} />
        <Field label="Email" type="email" value={values.email} onChange={set("email")} autoComplete="off" error={fieldError(error, "email")} />
      </div>
      <div className="form-row">
        <Field
          label="Team"
          value={values.team}
          onChange={set("team")}
          list={teamsListId}
          autoComplete="off"
          hint="Blank: no team."
          error={fieldError(error, "team")}
        />
        <datalist id={teamsListId}>
          {teams.data?.items.map((team) => <option key={team.team} value={team.team} />)}
        </datalist>
        <Field
          label="Cost centre"
          value={values.cost_center}
          onChange={set("cost_center")}
          autoComplete="off"
          hint="Recorded with each request, for finance exports. Blank: none."
          error={fieldError(error, "cost_center")}
        />
      </div>
      <div className="form-row">
        <SelectField label="Routing mode" value={values.routing_mode} onChange={set("routing_mode")} error={fieldError(error, "routing_mode")}>
          {ROUTING_MODES.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label} — {option.short}
            </option>
          ))}
        </SelectField>
        <Field
          label="Monthly budget (USD)"
          value={values.budget_usd}
          onChange={set("budget_usd")}
          inputMode="decimal"
          autoComplete="off"
          placeholder="None"
          hint="Bedrock is refused for the rest of a month once it is spent. Blank: no budget."
          error={fieldError(error, "budget_usd")}
        />
      </div>
      {notice ?? <FormError error={error} fields={[...USER_FORM_FIELDS]} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={pending}>
          {pending ? "Saving…" : submitLabel}
        </button>
        <button type="button" onClick={onCancel} disabled={pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
