import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App";
import { ConfigError, loadConfig } from "./config";
import "./styles.css";

const root = createRoot(document.getElementById("root") as HTMLElement);

loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (error: unknown) =>
    root.render(
      <main id="main" className="narrow">
        <h1>Overspill admin</h1>
        <div className="banner banner-error" role="alert">
          {error instanceof ConfigError ? error.message : "The dashboard could not start."} Reload the page to try again.
        </div>
      </main>,
    ),
);
