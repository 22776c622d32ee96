/** Who the user is and how their requests are routed; edit, deactivate or reactivate, delete. */
import { useState } from "react";
import { useNavigate } from "react-router";
import { useApiAction } from "../../api/hooks";
import {
  deactivateUser,
  deleteUser,
  reactivateUser,
  routingModeDescription,
  routingModeLabel,
  updateUser,
  type User,
  type UserUpdate,
} from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ConflictNotice, isConflict } from "../../components/Conflict";
import { FormError } from "../../components/Field";
import { Time } from "../../components/Time";
import { formValuesOf, UserForm, type UserFormValues, updateBody } from "./UserForm";

export function ProfileSection({ user, canChange, onChanged }: { user: User; canChange: boolean; onChanged(): void }) {
  const navigate = useNavigate();
  const [editing, setEditing] = useState(false);
  const save = useApiAction((api, body: UserUpdate) => updateUser(api, user.user_id, body));
  const lifecycle = useApiAction((api, change: "deactivate" | "reactivate" | "delete", version: number) => {
    if (change === "deactivate") return deactivateUser(api, user.user_id, version);
    if (change === "reactivate") return reactivateUser(api, user.user_id, version);
    return deleteUser(api, user.user_id);
  });

  async function submit(values: UserFormValues) {
    const body = updateBody(user, values);
    if (Object.keys(body).length === 1) {
      setEditing(false); // nothing changed: no request, no new version
      return;
    }
    if (await save.run(body)) {
      setEditing(false);
      onChanged();
    }
  }

  async function change(kind: "deactivate" | "reactivate" | "delete") {
    const answer = await lifecycle.run(kind, user.version);
    if (!answer) return;
    if (kind === "delete") navigate("/users");
    else onChanged();
  }

  function reloadAfterConflict() {
    save.clearError();
    lifecycle.clearError();
    setEditing(false);
    onChanged();
  }

  return (
    <section className="panel" aria-labelledby="profile-heading">
      <h2 id="profile-heading">Profile</h2>
      {editing ? (
        <UserForm
          key={user.version}
          initial={formValuesOf(user)}
          submitLabel="Save changes"
          pending={save.pending}
          error={save.error}
          onSubmit={(values) => void submit(values)}
          onCancel={() => {
            save.clearError();
            setEditing(false);
          }}
          notice={isConflict(save.error) ? <ConflictNotice what="this user" reloadLabel="Reload the user" error={save.error} onReload={reloadAfterConflict} /> : undefined}
        />
      ) : (
        <>
          <dl className="props">
            <dt>Email</dt>
            <dd>{user.email ?? <span className="muted">None</span>}</dd>
            <dt>Team</dt>
            <dd>{user.team ?? <span className="muted">None</span>}</dd>
            <dt>Cost centre</dt>
            <dd>{user.cost_center ?? <span className="muted">None</span>}</dd>
            <dt>Routing mode</dt>
            <dd>
              {routingModeLabel(user.routing_mode)}
              <br />
              <small className="muted">{routingModeDescription(user.routing_mode)}</small>
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={user.created_at} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time iso={user.updated_at} />
            </dd>
            <dt>User ID</dt>
            <dd>
              <code>{user.user_id}</code>
            </dd>
          </dl>
          {canChange && (
            <div className="actions">
              <button type="button" className="primary" onClick={() => setEditing(true)}>
                Edit
              </button>
              {user.status === "active" ? (
                <ConfirmButton label="Deactivate" title={`Deactivate ${user.name}?`} onConfirm={() => change("deactivate")}>
                  <p>Their access keys stop working within 30 seconds. Their keys, credentials and usage history are kept, and you can reactivate them later.</p>
                </ConfirmButton>
              ) : (
                <button type="button" onClick={() => void change("reactivate")} disabled={lifecycle.pending}>
                  Reactivate
                </button>
              )}
              <ConfirmButton label="Delete user" title={`Delete ${user.name}?`} onConfirm={() => change("delete")}>
                <p>
                  Every access key of theirs is revoked now, and a deleted user cannot be changed or reactivated (create a new user to give them access
                  again). Their usage history keeps their name.
                </p>
              </ConfirmButton>
            </div>
          )}
          {isConflict(lifecycle.error) ? (
            <ConflictNotice what="this user" reloadLabel="Reload the user" error={lifecycle.error} onReload={reloadAfterConflict} />
          ) : (
            <FormError error={lifecycle.error} fields={[]} />
          )}
        </>
      )}
    </section>
  );
}
