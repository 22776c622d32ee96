/** One user: profile, budget, access keys, Bedrock credentials, breaker and usage by model. */
import { Link, useParams } from "react-router";
import { ApiError } from "../api/client";
import { useApiQuery } from "../api/hooks";
import { getUser, type User } from "../api/users";
import { useIsAdmin } from "../app/context";
import { ErrorState, Loading } from "../components/States";
import { Time } from "../components/Time";
import { UserStatusBadge } from "./user/badges";
import { BreakerSection } from "./user/BreakerSection";
import { BudgetSection } from "./user/BudgetSection";
import { CredentialsSection } from "./user/CredentialsSection";
import { KeysSection } from "./user/KeysSection";
import { ProfileSection } from "./user/ProfileSection";
import { UsageSection } from "./user/UsageSection";

/** 404, or an id of another shape (the API answers 422 for a path that cannot be a user id). */
function isMissing(error: Error): boolean {
  return error instanceof ApiError && (error.status === 404 || (error.status === 422 && error.fields.some((problem) => problem.field === "user_id")));
}

export default function UserDetail() {
  const { userId = "" } = useParams();
  const user = useApiQuery(`user:${userId}`, (api) => getUser(api, userId));

  if (user.error && isMissing(user.error)) {
    return (
      <section>
        <h1>No such user</h1>
        <p>
          There is no user <code>{userId}</code>. <Link to="/users">Back to Users</Link>
        </p>
      </section>
    );
  }
  if (user.error) {
    return (
      <>
        <p>
          <Link to="/users">← Users</Link>
        </p>
        <h1>User</h1>
        <ErrorState error={user.error} onRetry={user.reload} />
      </>
    );
  }
  // A different user in the same place: every section starts afresh (no key shown for the previous one lingers).
  if (!user.data || user.data.user_id !== userId) return <Loading label="Loading the user…" />;
  return <UserPage key={userId} user={user.data} onChanged={user.reload} />;
}

function UserPage({ user, onChanged }: { user: User; onChanged(): void }) {
  const deleted = user.status === "deleted";
  // Deleted users cannot be changed (the API refuses): their page is a record, without controls.
  const canChange = useIsAdmin() && !deleted;
  return (
    <>
      <p style={{ margin: "0 0 0.5rem" }}>
        <Link to="/users">← Users</Link>
      </p>
      <div className="page-header" style={{ justifyContent: "flex-start", alignItems: "center" }}>
        <h1>{user.name}</h1>
        <UserStatusBadge status={user.status} />
      </div>
      {deleted && (
        <p className="banner-info">
          This user was deleted (<Time iso={user.updated_at} />
          ): every key of theirs is revoked and their usage history is kept. To give them access again, create a new user.
        </p>
      )}
      {user.status === "inactive" && <p className="banner-info">This user is deactivated: their keys are refused until they are reactivated.</p>}
      <div className="grid-2">
        <ProfileSection user={user} canChange={canChange} onChanged={onChanged} />
        <BudgetSection user={user} />
      </div>
      <KeysSection userId={user.user_id} canChange={canChange} />
      <div className="grid-2">
        <CredentialsSection userId={user.user_id} canChange={canChange} />
        <BreakerSection userId={user.user_id} canChange={canChange} />
      </div>
      <UsageSection userId={user.user_id} />
    </>
  );
}
