/** Pages an admin alone may see: for finance they do not exist (no link, and a direct URL says so). */
import type { ReactNode } from "react";
import { useServices, type Role } from "../app/context";

export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const { me } = useServices();
  if (me?.role !== role) {
    return (
      <section>
        <h1>Not available</h1>
        <p>This page is for {role === "admin" ? "admins" : role} only.</p>
      </section>
    );
  }
  return <>{children}</>;
}
