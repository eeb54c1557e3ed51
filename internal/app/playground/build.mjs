// Bundles the playground (src/) into dist/: one script, one stylesheet and
// the page, all served from the binary (internal/app/playground.go). Run by
// `make playground` after `npm ci`; the output is committed.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: { playground: "src/index.jsx" },
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  jsx: "automatic",
  outdir: "dist",
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".woff2": "dataurl", ".woff": "dataurl", ".png": "dataurl", ".svg": "dataurl" },
  logLevel: "info",
});
copyFileSync("src/index.html", "dist/index.html");
