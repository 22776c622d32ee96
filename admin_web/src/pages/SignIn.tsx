/** Sign in with Cognito, including the first-time new-password step; then back to the page that sent you here. */
import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { useServices } from "../app/context";
import { SignInError } from "../auth/session";
import { Field } from "../components/Field";

/** Only paths of this app: `next` must never send the user to another site. */
export function safeNext(next: string | null): string {
  if (!next?.startsWith("/")) return "/";
  // Resolved as the browser would ("/\\evil.example" and "/<tab>/evil.example" are other sites to it).
  const url = new URL(next, window.location.origin);
  if (url.origin !== window.location.origin || url.pathname.startsWith("/sign-in")) return "/";
  return url.pathname + url.search + url.hash;
}

export default function SignIn() {
  const { session, setMe } = useServices();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [challenge, setChallenge] = useState<{ username: string; challengeSession: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (session.current() && !challenge && !busy) return <Navigate to={next} replace />;

  function done() {
    setMe(null); // RequireSignIn asks /api/me for the new user
    navigate(next, { replace: true });
  }

  async function signIn(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!username.trim() || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    try {
      const result = await session.signIn(username.trim(), password);
      if (result.kind === "newPasswordRequired") {
        setChallenge(result);
        setPassword("");
      } else {
        done();
      }
    } catch (caught) {
      setError(caught instanceof SignInError ? caught.message : "Sign-in failed. Please try again.");
    } finally {
      setBusy(false);
    }
  }

  async function choosePassword(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!challenge) return;
    if (newPassword !== repeat) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    try {
      await session.completeNewPassword(challenge.username, newPassword, challenge.challengeSession);
      setChallenge(null);
      done();
    } catch (caught) {
      setError(caught instanceof SignInError ? caught.message : "Could not set the password. Please try again.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>Overspill admin</h1>
      {params.get("expired") && !challenge && (
        <p className="banner banner-info" role="status">
          Your session has ended. Sign in again to continue where you were.
        </p>
      )}
      {challenge ? (
        <form onSubmit={choosePassword} noValidate aria-labelledby="new-password-title">
          <h2 id="new-password-title">Choose a new password</h2>
          <p>This is your first sign-in: replace the temporary password. At least 12 characters, with upper and lower case letters and digits.</p>
          <Field label="New password" type="password" autoComplete="new-password" value={newPassword} onChange={(event) => setNewPassword(event.target.value)} required />
          <Field label="Repeat the new password" type="password" autoComplete="new-password" value={repeat} onChange={(event) => setRepeat(event.target.value)} required />
          {error && <p className="form-error" role="alert">{error}</p>}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : "Set password and sign in"}
          </button>
        </form>
      ) : (
        <form onSubmit={signIn} noValidate aria-labelledby="sign-in-title">
          <h2 id="sign-in-title">Sign in</h2>
          <Field label="Username" autoComplete="username" value={username} onChange={(event) => setUsername(event.target.value)} required />
          <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(event) => setPassword(event.target.value)} required />
          {error && <p className="form-error" role="alert">{error}</p>}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      )}
    </main>
  );
}
