// Small helpers shared by the test files: AWS-shaped errors, per-file SDK client mocks, require-from-string.
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ECRClient } from "@aws-sdk/client-ecr";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";

/** An error as SDK v3 raises it: the AWS error code in `name`. */
export const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

/**
 * Mocks an SDK client class for the calling describe block only, reset after each test and restored after the
 * block, so test files do not steal each other's stubs.
 */
export function useClientMock<C extends EC2Client | ECRClient>(cls: {
    prototype: C;
}): () => AwsClientStub<C> {
    let stub: AwsClientStub<C> | undefined;
    before(() => {
        stub = mockClient(cls as never) as unknown as AwsClientStub<C>;
    });
    afterEach(() => stub?.reset());
    after(() => stub?.restore());
    return () => {
        if (!stub) throw new Error("the client mock is used outside its describe block");
        return stub;
    };
}

/** What @pulumi/pulumi/cmd/dynamic-provider loads a stored provider with (the package ships no types). */
// biome-ignore lint/suspicious/noExplicitAny: the loaded module's shape is the caller's to check
export const requireFromString: (code: string) => any = require("require-from-string");

/**
 * Runs `probe` (CommonJS, ts-node available) in a fresh Node process at the project root with this stack config,
 * as the Pulumi engine would pass it; returns the process's last stdout line parsed as JSON.
 */
export function runProgramProbe(probe: string, config: Record<string, string>): unknown {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const root = require("node:path").join(__dirname, "..");
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", probe], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config) },
    });
    if (r.status !== 0) throw new Error(`probe exited with ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "null");
}
