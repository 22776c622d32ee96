/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // A manifest lets scripts/bundle-size.mjs tell what the first load fetches from what loads later.
    manifest: true,
  },
  server: {
    // `npm run dev` against a running `overspill dev` (default port): the API and config.json come from there.
    proxy: { "/api": "http://127.0.0.1:8787", "/config.json": "http://127.0.0.1:8787" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    css: false,
  },
});
