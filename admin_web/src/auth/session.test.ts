import { InvalidPasswordException, NotAuthorizedException } from "@aws-sdk/client-cognito-identity-provider";
import { COGNITO, fakeCognito, type SentCommand } from "../test/fixtures";
import { SessionExpiredError, SessionStore, SignInError, type StoredSession } from "./session";

const STORAGE_KEY = "overspill.session";
const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);

/** A Storage over a Map, so a test sees exactly what the store kept and where. */
class MemoryStorage implements Storage {
  readonly map = new Map<string, string>();
  get length() {
    return this.map.size;
  }
  clear() {
    this.map.clear();
  }
  getItem(key: string) {
    return this.map.get(key) ?? null;
  }
  key(index: number) {
    return [...this.map.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.map.delete(key);
  }
  setItem(key: string, value: string) {
    this.map.set(key, String(value));
  }
}

function tokens(accessToken: string, refreshToken?: string, expiresIn = 3600) {
  return { AuthenticationResult: { AccessToken: accessToken, RefreshToken: refreshToken, ExpiresIn: expiresIn, IdToken: "id", TokenType: "Bearer" } };
}

function notAuthorized(message = "Incorrect username or password.") {
  return new NotAuthorizedException({ message, $metadata: {} });
}

function stored(storage: MemoryStorage): StoredSession | null {
  const raw = storage.getItem(STORAGE_KEY);
  return raw ? (JSON.parse(raw) as StoredSession) : null;
}

/** A store already signed in at T0 with an access token valid for an hour. */
async function signedInStore(answerAfterSignIn: (command: SentCommand) => unknown) {
  const storage = new MemoryStorage();
  let signedIn = false;
  const cognito = fakeCognito((command) => {
    if (!signedIn) {
      signedIn = true;
      return tokens("access-1", "refresh-1");
    }
    return answerAfterSignIn(command);
  });
  const store = new SessionStore(COGNITO, storage, cognito.client);
  await store.signIn("ada", "correct horse battery");
  cognito.sent.length = 0;
  return { store, storage, sent: cognito.sent };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("signing in", () => {
  test("USER_PASSWORD_AUTH with the app client; the session is kept in the given storage only", async () => {
    const storage = new MemoryStorage();
    const { client, sent } = fakeCognito(() => tokens("access-1", "refresh-1", 3600));
    const store = new SessionStore(COGNITO, storage, client);

    const result = await store.signIn("ada", "correct horse battery");

    expect(sent).toEqual([
      {
        name: "InitiateAuthCommand",
        input: { AuthFlow: "USER_PASSWORD_AUTH", ClientId: "app-client", AuthParameters: { USERNAME: "ada", PASSWORD: "correct horse battery" } },
      },
    ]);
    const expected: StoredSession = {
      username: "ada",
      userPoolId: "eu-west-1_pool",
      clientId: "app-client",
      accessToken: "access-1",
      refreshToken: "refresh-1",
      expiresAt: T0 + 3600_000,
    };
    expect(result).toEqual({ kind: "signedIn", session: expected });
    expect([...storage.map.keys()]).toEqual([STORAGE_KEY]);
    expect(stored(storage)).toEqual(expected);
    expect(store.current()).toEqual(expected);
    // Nowhere else: not the page's own storages, cookies or URL; the password is not kept at all.
    expect(window.localStorage.length).toBe(0);
    expect(window.sessionStorage.length).toBe(0);
    expect(document.cookie).toBe("");
    expect(window.location.href).not.toContain("access-1");
    expect(storage.getItem(STORAGE_KEY)).not.toContain("correct horse battery");
  });

  test("NEW_PASSWORD_REQUIRED returns the challenge, stores nothing; completing it stores the session", async () => {
    const storage = new MemoryStorage();
    const { client, sent } = fakeCognito((command) =>
      command.name === "InitiateAuthCommand"
        ? { ChallengeName: "NEW_PASSWORD_REQUIRED", Session: "challenge-session", ChallengeParameters: {} }
        : tokens("access-2", "refresh-2", 1800),
    );
    const store = new SessionStore(COGNITO, storage, client);

    const result = await store.signIn("ada", "Temporary-1");
    expect(result).toEqual({ kind: "newPasswordRequired", username: "ada", challengeSession: "challenge-session" });
    expect(storage.length).toBe(0);
    expect(store.current()).toBeNull();

    const session = await store.completeNewPassword("ada", "A-new-Password-2026", "challenge-session");
    expect(sent[1]).toEqual({
      name: "RespondToAuthChallengeCommand",
      input: {
        ChallengeName: "NEW_PASSWORD_REQUIRED",
        ClientId: "app-client",
        Session: "challenge-session",
        ChallengeResponses: { USERNAME: "ada", NEW_PASSWORD: "A-new-Password-2026" },
      },
    });
    expect(session).toMatchObject({ username: "ada", accessToken: "access-2", refreshToken: "refresh-2", expiresAt: T0 + 1800_000 });
    expect(stored(storage)).toEqual(session);
  });

  test("a wrong password reads 'Incorrect username or password.' and stores nothing", async () => {
    const storage = new MemoryStorage();
    const { client } = fakeCognito(() => {
      throw notAuthorized("Incorrect username or password.");
    });
    const store = new SessionStore(COGNITO, storage, client);

    const refusal = store.signIn("ada", "wrong");
    await expect(refusal).rejects.toBeInstanceOf(SignInError);
    await expect(refusal).rejects.toThrow("Incorrect username or password.");
    expect(storage.length).toBe(0);
  });

  test("a refused new password keeps Cognito's words, which name the rule broken", async () => {
    const rule = "Password does not conform to policy: Password must have uppercase characters";
    const { client } = fakeCognito(() => {
      throw new InvalidPasswordException({ message: rule, $metadata: {} });
    });
    const store = new SessionStore(COGNITO, new MemoryStorage(), client);

    await expect(store.completeNewPassword("ada", "lowercase-only-1", "challenge-session")).rejects.toThrow(rule);
  });

  test("an unreachable Cognito is told apart from a wrong password", async () => {
    const { client } = fakeCognito(() => {
      throw new TypeError("Failed to fetch");
    });
    const store = new SessionStore(COGNITO, new MemoryStorage(), client);

    await expect(store.signIn("ada", "pw")).rejects.toThrow("The sign-in service cannot be reached. Check your connection and try again.");
  });

  test("a challenge the dashboard cannot answer (MFA) is refused by name, not half signed in", async () => {
    const storage = new MemoryStorage();
    const { client } = fakeCognito(() => ({ ChallengeName: "SOFTWARE_TOKEN_MFA", Session: "s" }));
    const store = new SessionStore(COGNITO, storage, client);

    await expect(store.signIn("ada", "pw")).rejects.toThrow(/SOFTWARE_TOKEN_MFA/);
    expect(storage.length).toBe(0);
  });
});

describe("the stored session", () => {
  function keep(storage: MemoryStorage, session: Partial<StoredSession>) {
    storage.setItem(
      STORAGE_KEY,
      JSON.stringify({ username: "ada", userPoolId: COGNITO.userPoolId, clientId: COGNITO.clientId, accessToken: "a", refreshToken: "r", expiresAt: T0 + 3600_000, ...session }),
    );
  }

  test.each([
    ["another user pool", { userPoolId: "eu-west-1_oldpool" }],
    ["another app client", { clientId: "old-client" }],
  ])("a session of %s (an earlier deployment) is dropped", (_, other) => {
    const storage = new MemoryStorage();
    keep(storage, other);
    const store = new SessionStore(COGNITO, storage, fakeCognito(() => ({})).client);

    expect(store.current()).toBeNull();
    expect(storage.length).toBe(0);
  });

  test("a session of this pool and client is kept", () => {
    const storage = new MemoryStorage();
    keep(storage, {});
    const store = new SessionStore(COGNITO, storage, fakeCognito(() => ({})).client);

    expect(store.current()).toMatchObject({ username: "ada", accessToken: "a" });
  });

  test("an unreadable stored value is dropped rather than breaking the page", () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, "{not json");
    const store = new SessionStore(COGNITO, storage, fakeCognito(() => ({})).client);

    expect(store.current()).toBeNull();
    expect(storage.length).toBe(0);
  });
});

describe("the access token", () => {
  test("is used as is until a minute before it expires, then refreshed with the refresh token", async () => {
    const { store, storage, sent } = await signedInStore(() => tokens("access-2", undefined, 3600));

    vi.setSystemTime(T0 + 3600_000 - 61_000);
    expect(await store.accessToken()).toBe("access-1");
    expect(sent).toEqual([]);

    vi.setSystemTime(T0 + 3600_000 - 59_000);
    expect(await store.accessToken()).toBe("access-2");
    expect(sent).toEqual([
      { name: "InitiateAuthCommand", input: { AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: "app-client", AuthParameters: { REFRESH_TOKEN: "refresh-1" } } },
    ]);
    // Cognito does not send the refresh token again: the one we had is kept for the next refresh.
    expect(stored(storage)).toMatchObject({ accessToken: "access-2", refreshToken: "refresh-1", expiresAt: T0 + 3600_000 - 59_000 + 3600_000 });
  });

  test("concurrent callers share one refresh (the refresh token is spent once)", async () => {
    let release!: () => void;
    const answered = new Promise<void>((resolve) => (release = resolve));
    const { store, sent } = await signedInStore(async () => {
      await answered;
      return tokens("access-2");
    });
    vi.setSystemTime(T0 + 3600_000);

    const callers = Promise.all([store.accessToken(), store.accessToken(), store.accessToken({ forceRefresh: true })]);
    release();

    expect(await callers).toEqual(["access-2", "access-2", "access-2"]);
    expect(sent).toHaveLength(1);
  });

  test("a forced refresh refreshes even a fresh token (the API refused it)", async () => {
    const { store, sent } = await signedInStore(() => tokens("access-2"));

    expect(await store.accessToken({ forceRefresh: true })).toBe("access-2");
    expect(sent.map((command) => command.input.AuthFlow)).toEqual(["REFRESH_TOKEN_AUTH"]);
  });

  test("a refused refresh clears the session and throws SessionExpiredError", async () => {
    const { store, storage } = await signedInStore(() => {
      throw notAuthorized("Refresh Token has expired");
    });
    vi.setSystemTime(T0 + 3600_000);

    const refresh = store.accessToken();
    await expect(refresh).rejects.toBeInstanceOf(SessionExpiredError);
    await expect(refresh).rejects.toThrow("Your session has ended. Please sign in again.");
    expect(storage.length).toBe(0);
    expect(store.current()).toBeNull();
  });

  test("a refresh that cannot reach Cognito (offline) keeps the session for later", async () => {
    const { store, storage } = await signedInStore(() => {
      throw new TypeError("Failed to fetch");
    });
    vi.setSystemTime(T0 + 3600_000);

    await expect(store.accessToken()).rejects.toBeInstanceOf(TypeError);
    expect(stored(storage)).toMatchObject({ accessToken: "access-1", refreshToken: "refresh-1" });
  });

  test("without a session there is no token: SessionExpiredError, and Cognito is not asked", async () => {
    const { client, sent } = fakeCognito(() => tokens("x", "y"));
    const store = new SessionStore(COGNITO, new MemoryStorage(), client);

    await expect(store.accessToken()).rejects.toBeInstanceOf(SessionExpiredError);
    expect(sent).toEqual([]);
  });
});

describe("signing out", () => {
  test("ends the tokens everywhere with GlobalSignOut and clears the session", async () => {
    const { store, storage, sent } = await signedInStore(() => ({}));

    await store.signOut();

    expect(sent).toEqual([{ name: "GlobalSignOutCommand", input: { AccessToken: "access-1" } }]);
    expect(storage.length).toBe(0);
  });

  test("clears the session even when GlobalSignOut fails", async () => {
    const { store, storage } = await signedInStore(() => {
      throw new TypeError("Failed to fetch");
    });

    await expect(store.signOut()).resolves.toBeUndefined();
    expect(storage.length).toBe(0);
    expect(store.current()).toBeNull();
  });
});
