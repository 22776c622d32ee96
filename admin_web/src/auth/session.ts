/**
 * Signing in with Cognito (USER_PASSWORD_AUTH, as the CLI does) and keeping the session: tokens live in
 * localStorage so a reload keeps the admin signed in, never in a URL; the access token is refreshed silently
 * a minute before it expires.
 */
import {
  CognitoIdentityProviderClient,
  GlobalSignOutCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  type AuthenticationResultType,
} from "@aws-sdk/client-cognito-identity-provider";
import type { RuntimeConfig } from "../config";

const STORAGE_KEY = "overspill.session";
const REFRESH_MARGIN_MS = 60_000;

export interface StoredSession {
  username: string;
  userPoolId: string;
  clientId: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

export type SignInResult =
  | { kind: "signedIn"; session: StoredSession }
  | { kind: "newPasswordRequired"; username: string; challengeSession: string };

/** Cognito refused (wrong password, bad new password, expired refresh token…): `message` is for a person. */
export class SignInError extends Error {}

/** The session cannot be renewed: the user must sign in again. */
export class SessionExpiredError extends Error {
  constructor() {
    super("Your session has ended. Please sign in again.");
  }
}

const PERSON_MESSAGES: Record<string, string> = {
  NotAuthorizedException: "Incorrect username or password.",
  UserNotFoundException: "Incorrect username or password.",
  PasswordResetRequiredException: "Your password must be reset by an administrator.",
  TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
  LimitExceededException: "Too many attempts. Wait a moment and try again.",
};

function toSignInError(error: unknown): SignInError {
  const name = (error as { name?: string })?.name ?? "";
  if (name === "InvalidPasswordException" || name === "InvalidParameterException") {
    // Cognito's own words name the password rule that was broken.
    return new SignInError((error as Error).message || "That password is not allowed.");
  }
  if (name in PERSON_MESSAGES) return new SignInError(PERSON_MESSAGES[name]);
  if (error instanceof TypeError || name === "TimeoutError") {
    return new SignInError("The sign-in service cannot be reached. Check your connection and try again.");
  }
  return new SignInError("Sign-in failed. Please try again.");
}

export class SessionStore {
  private readonly client: CognitoIdentityProviderClient;
  private refreshing: Promise<StoredSession> | null = null;

  constructor(
    private readonly config: RuntimeConfig["cognito"],
    private readonly storage: Storage = window.localStorage,
    client?: CognitoIdentityProviderClient,
  ) {
    this.client =
      client ??
      new CognitoIdentityProviderClient({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        // Sign-in operations are unauthenticated; nothing of AWS's is signed from the browser.
        credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
      });
  }

  /** The stored session, if it belongs to this pool and app client (a new deployment makes a new pool). */
  current(): StoredSession | null {
    const raw = this.storage.getItem(STORAGE_KEY);
    if (!raw) return null;
    try {
      const session = JSON.parse(raw) as StoredSession;
      if (session.userPoolId !== this.config.userPoolId || session.clientId !== this.config.clientId) {
        this.clear();
        return null;
      }
      return session;
    } catch {
      this.clear();
      return null;
    }
  }

  async signIn(username: string, password: string): Promise<SignInResult> {
    let answer;
    try {
      answer = await this.client.send(
        new InitiateAuthCommand({
          AuthFlow: "USER_PASSWORD_AUTH",
          ClientId: this.config.clientId,
          AuthParameters: { USERNAME: username, PASSWORD: password },
        }),
      );
    } catch (error) {
      throw toSignInError(error);
    }
    if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED" && answer.Session) {
      return { kind: "newPasswordRequired", username, challengeSession: answer.Session };
    }
    if (answer.ChallengeName) {
      throw new SignInError(`This account needs a sign-in step the dashboard does not support (${answer.ChallengeName}).`);
    }
    return { kind: "signedIn", session: this.keep(username, answer.AuthenticationResult) };
  }

  async completeNewPassword(username: string, newPassword: string, challengeSession: string): Promise<StoredSession> {
    let answer;
    try {
      answer = await this.client.send(
        new RespondToAuthChallengeCommand({
          ChallengeName: "NEW_PASSWORD_REQUIRED",
          ClientId: this.config.clientId,
          Session: challengeSession,
          ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
        }),
      );
    } catch (error) {
      throw toSignInError(error);
    }
    return this.keep(username, answer.AuthenticationResult);
  }

  /** A valid access token, refreshed first when it is about to expire; SessionExpiredError when it cannot be. */
  async accessToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    const session = this.current();
    if (!session) throw new SessionExpiredError();
    if (!options.forceRefresh && session.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.accessToken;
    return (await this.refresh(session)).accessToken;
  }

  async signOut(): Promise<void> {
    const session = this.current();
    this.clear();
    if (!session) return;
    try {
      // Ends the refresh token everywhere; the access token itself lapses within the hour.
      await this.client.send(new GlobalSignOutCommand({ AccessToken: session.accessToken }));
    } catch {
      // Signed out here regardless: the local tokens are gone.
    }
  }

  clear(): void {
    this.storage.removeItem(STORAGE_KEY);
  }

  private refresh(session: StoredSession): Promise<StoredSession> {
    // One refresh at a time: a page firing five requests must not spend the refresh token five times.
    this.refreshing ??= (async () => {
      try {
        const answer = await this.client.send(
          new InitiateAuthCommand({
            AuthFlow: "REFRESH_TOKEN_AUTH",
            ClientId: this.config.clientId,
            AuthParameters: { REFRESH_TOKEN: session.refreshToken },
          }),
        );
        return this.keep(session.username, answer.AuthenticationResult, session.refreshToken);
      } catch (error) {
        // Only Cognito refusing the refresh token ends the session; throttling, timeouts and being offline keep
        // it (the caller shows the API as unreachable and a later attempt may succeed).
        const name = (error as { name?: string })?.name ?? "";
        if (name !== "NotAuthorizedException" && name !== "UserNotFoundException") throw error;
        this.clear();
        throw new SessionExpiredError();
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private keep(username: string, result: AuthenticationResultType | undefined, refreshToken?: string): StoredSession {
    if (!result?.AccessToken || !(result.RefreshToken ?? refreshToken)) {
      throw new SignInError("Sign-in failed: Cognito returned no tokens.");
    }
    const session: StoredSession = {
      username,
      userPoolId: this.config.userPoolId,
      clientId: this.config.clientId,
      accessToken: result.AccessToken,
      refreshToken: (result.RefreshToken ?? refreshToken) as string,
      expiresAt: Date.now() + (result.ExpiresIn ?? 3600) * 1000,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    return session;
  }
}
