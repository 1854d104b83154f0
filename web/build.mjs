// Copies the Scalar standalone bundle into the API's wwwroot; the bundle itself is never committed.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "src", "Analytics.Api", "wwwroot", "scalar");
mkdirSync(target, { recursive: true });
copyFileSync(join(here, "node_modules", "@scalar", "api-reference", "dist", "browser", "standalone.js"), join(target, "standalone.js"));
console.log(`Scalar bundle copied to ${target}`);
