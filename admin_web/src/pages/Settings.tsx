/**
 * Settings: the prices the gateway charges and the Bedrock model behind each model name. Finance reads both;
 * admins change the price overrides and the admin model map (each saved with the version read, 409 if stale).
 */
import { useIsAdmin } from "../app/context";
import { MappingsSection } from "./settings/MappingsSection";
import { PricingSection } from "./settings/PricingSection";

export default function Settings() {
  const isAdmin = useIsAdmin();
  return (
    <>
      <div className="page-header">
        <h1>Settings</h1>
      </div>
      <p className="muted">
        {isAdmin
          ? "Changes take effect on every proxy within a few minutes, without a redeploy, and are recorded in the audit log."
          : "What the gateway charges per model, and which Bedrock model answers each model name. Admins can change them."}
      </p>
      <PricingSection />
      <MappingsSection />
    </>
  );
}
