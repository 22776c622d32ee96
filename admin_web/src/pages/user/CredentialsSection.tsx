/**
 * The user's own Bedrock credentials: masked view, replace, test, delete. Secrets are write-only: the inputs are
 * emptied as soon as a save is sent, whatever the answer, and nothing the page shows afterwards contains them.
 */
import { useState, type FormEvent } from "react";
import { useApiAction, useApiQuery } from "../../api/hooks";
import {
  CREDENTIAL_KINDS,
  credentialKindLabel,
  deleteCredentials,
  getCredentials,
  putCredentials,
  testCredentials,
  type CredentialKind,
  type CredentialsInput,
  type CredentialsTest,
} from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Field, fieldError, FormError, SelectField } from "../../components/Field";
import { Loaded } from "../../components/States";
import { Time } from "../../components/Time";
import { formatCount } from "../../lib/format";

const FIELDS = ["kind", "api_key", "access_key_id", "secret_access_key", "session_token", "region"];
const NO_SECRETS = { api_key: "", secret_access_key: "", session_token: "" };

export function CredentialsSection({ userId, canChange }: { userId: string; canChange: boolean }) {
  const credentials = useApiQuery(`credentials:${userId}`, (api) => getCredentials(api, userId));
  const [kind, setKind] = useState<CredentialKind>("api_key");
  const [secrets, setSecrets] = useState(NO_SECRETS);
  const [accessKeyId, setAccessKeyId] = useState("");
  const [region, setRegion] = useState("");
  const [saved, setSaved] = useState(false);
  const [tested, setTested] = useState<CredentialsTest | null>(null);
  const save = useApiAction((api, body: CredentialsInput) => putCredentials(api, userId, body));
  const test = useApiAction((api) => testCredentials(api, userId));
  const remove = useApiAction((api) => deleteCredentials(api, userId));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (save.pending) return;
    const body: CredentialsInput =
      kind === "api_key"
        ? { kind, api_key: secrets.api_key, region: region.trim() || null }
        : {
            kind,
            access_key_id: accessKeyId.trim(),
            secret_access_key: secrets.secret_access_key,
            session_token: secrets.session_token || null,
            region: region.trim() || null,
          };
    setSecrets(NO_SECRETS); // before the answer: a failed save must not leave a secret on screen either
    setSaved(false);
    setTested(null);
    if (await save.run(body)) {
      setAccessKeyId("");
      setRegion("");
      setSaved(true);
      credentials.reload();
    }
  }

  async function runTest() {
    setTested(null);
    const answer = await test.run();
    if (answer) setTested(answer);
  }

  async function removeCredentials() {
    setSaved(false);
    setTested(null);
    await remove.run();
    credentials.reload();
  }

  const secretInput = { type: "password", autoComplete: "new-password", spellCheck: false } as const;
  return (
    <section className="panel" aria-labelledby="credentials-heading">
      <h2 id="credentials-heading">Bedrock credentials</h2>
      <Loaded query={credentials} loadingLabel="Loading credentials…">
        {(view) =>
          view ? (
            <dl className="props">
              <dt>Type</dt>
              <dd>{credentialKindLabel(view.kind)}</dd>
              <dt>Region</dt>
              <dd>{view.region ?? <span className="muted">The deployment's Bedrock region</span>}</dd>
              <dt>Secret</dt>
              <dd>
                <code>{view.hint}</code>
              </dd>
              <dt>Updated</dt>
              <dd>
                <Time iso={view.updated_at} />
              </dd>
            </dl>
          ) : (
            <p>None — the gateway's own role answers this user's fallback</p>
          )
        }
      </Loaded>
      {saved && (
        <p className="banner-ok" role="status">
          Credentials saved. Test them to be sure Bedrock accepts them.
        </p>
      )}
      {tested && <TestResult result={tested} />}
      <FormError error={test.error} fields={[]} />
      <FormError error={remove.error} fields={[]} />
      {canChange && (
        <>
          <div className="actions">
            <button type="button" onClick={() => void runTest()} disabled={test.pending}>
              {test.pending ? "Testing…" : "Test credentials"}
            </button>
            {credentials.data && (
              <ConfirmButton label="Delete credentials" title="Delete this user's Bedrock credentials?" onConfirm={removeCredentials}>
                <p>The gateway's own role answers this user's fallback from now on (for the models the deployment maps).</p>
              </ConfirmButton>
            )}
          </div>
          <h3>{credentials.data ? "Replace credentials" : "Set credentials"}</h3>
          <form onSubmit={submit} noValidate>
            <SelectField
              label="Credential type"
              value={kind}
              onChange={(event) => {
                setKind(event.target.value as CredentialKind);
                setSecrets(NO_SECRETS);
              }}
              error={fieldError(save.error, "kind")}
            >
              {CREDENTIAL_KINDS.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </SelectField>
            {kind === "api_key" ? (
              <Field
                label="API key"
                {...secretInput}
                value={secrets.api_key}
                onChange={(event) => setSecrets({ ...secrets, api_key: event.target.value })}
                error={fieldError(save.error, "api_key")}
              />
            ) : (
              <>
                <Field
                  label="Access key ID"
                  value={accessKeyId}
                  onChange={(event) => setAccessKeyId(event.target.value)}
                  autoComplete="off"
                  spellCheck={false}
                  error={fieldError(save.error, "access_key_id")}
                />
                <Field
                  label="Secret access key"
                  {...secretInput}
                  value={secrets.secret_access_key}
                  onChange={(event) => setSecrets({ ...secrets, secret_access_key: event.target.value })}
                  error={fieldError(save.error, "secret_access_key")}
                />
                <Field
                  label="Session token (optional)"
                  {...secretInput}
                  value={secrets.session_token}
                  onChange={(event) => setSecrets({ ...secrets, session_token: event.target.value })}
                  hint="Only for temporary (ASIA…) keys."
                  error={fieldError(save.error, "session_token")}
                />
              </>
            )}
            <Field
              label="Region"
              value={region}
              onChange={(event) => setRegion(event.target.value)}
              autoComplete="off"
              spellCheck={false}
              hint="Blank: the deployment's Bedrock region."
              error={fieldError(save.error, "region")}
            />
            <FormError error={save.error} fields={FIELDS} />
            <div className="actions">
              <button type="submit" className="primary" disabled={save.pending}>
                {save.pending ? "Saving…" : "Save credentials"}
              </button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}

function TestResult({ result }: { result: CredentialsTest }) {
  return (
    <div className={result.ok ? "banner-ok" : "state state-error"} role="status">
      <p>
        <strong>{result.ok ? "Test passed" : "Test failed"}</strong> — {result.message}
      </p>
      <dl className="props">
        <dt>Credentials used</dt>
        <dd>{result.credentials === "user" ? "This user's own" : "The gateway's role"}</dd>
        <dt>Model</dt>
        <dd>{result.model_id ? <code>{result.model_id}</code> : "—"}</dd>
        <dt>Bedrock answered</dt>
        <dd>
          {result.status === null ? "Not reached" : result.status}
          {result.code ? ` (${result.code})` : ""}
        </dd>
        <dt>Latency</dt>
        <dd>{formatCount(result.latency_ms)} ms</dd>
      </dl>
    </div>
  );
}
