/** What every page needs: the API client, the session, who is signed in, and whether the API is reachable. */
import { createContext, useContext } from "react";
import type { ApiClient } from "../api/client";
import type { SessionStore } from "../auth/session";
import type { RuntimeConfig } from "../config";

export type Role = "admin" | "finance";

export interface Me {
  username: string;
  role: Role;
  groups: string[];
}

export interface Services {
  config: RuntimeConfig;
  api: ApiClient;
  session: SessionStore;
  me: Me | null;
  /** Set by the sign-in page once /api/me has answered. */
  setMe(me: Me | null): void;
  signOut(): Promise<void>;
  apiDown: string | null;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices outside <ServicesContext.Provider>");
  return services;
}

/** True for admins: finance never sees the controls that change things (they are not rendered at all). */
export function useIsAdmin(): boolean {
  return useServices().me?.role === "admin";
}
