// `npm run cleanup` and `npm run restore` start from built JavaScript, not through ts-node: the command is bundled
// with esbuild into .build/ (its npm packages stay external), rebuilt only when one of the files it was built
// from has changed since, then loaded and run. Plain JavaScript, so nothing compiles before the check.
const { existsSync, readFileSync, statSync } = require("node:fs");
const { join } = require("node:path");

const COMMANDS = { cleanup: "runner/cli.ts", restore: "runner/restore.ts" };
const root = join(__dirname, "..");
const [command, ...argv] = process.argv.slice(2);
const entry = COMMANDS[command];
if (!entry) {
    process.stderr.write(
        `error: unknown command ${JSON.stringify(command)}: one of ${Object.keys(COMMANDS).join(", ")}\n`,
    );
    process.exit(2);
}
const out = join(root, ".build", `${command}.js`);
const meta = `${out}.meta.json`;

/** Built, and no input changed since: the metafile lists every file the bundle was made from. */
function fresh() {
    if (!existsSync(out) || !existsSync(meta)) return false;
    const built = statSync(out).mtimeMs;
    const inputs = Object.keys(JSON.parse(readFileSync(meta, "utf8")).inputs);
    return inputs.every(
        (file) => existsSync(join(root, file)) && statSync(join(root, file)).mtimeMs <= built,
    );
}

if (!fresh()) {
    // Built beside, then renamed into place: a command started meanwhile never loads half a bundle.
    const { buildSync } = require("esbuild");
    const { renameSync, writeFileSync } = require("node:fs");
    const partial = `${out}.${process.pid}.partial`;
    const result = buildSync({
        absWorkingDir: root,
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        target: "node22",
        packages: "external",
        outfile: partial,
        metafile: true,
        logLevel: "warning",
    });
    writeFileSync(meta, JSON.stringify(result.metafile));
    renameSync(partial, out);
}
require(out)
    .main(argv)
    .then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`error: ${err?.message ?? err}\n`);
            process.exitCode = 1;
        },
    );
