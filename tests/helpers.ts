// Small helpers shared by the test files: AWS-shaped errors, per-file SDK client mocks, require-from-string.
import {
    AutoScalingClient,
    DescribeAutoScalingGroupsCommand,
    DescribeLaunchConfigurationsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
    CreateTagsCommand,
    DescribeFleetsCommand,
    DescribeImageAttributeCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSnapshotsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import type { ECRClient } from "@aws-sdk/client-ecr";
import { DescribeParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";
import type { UsageClients } from "../functions/core/ami/usage";

/** An error as SDK v3 raises it: the AWS error code in `name`. */
export const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

/**
 * Mocks an SDK client class for the calling describe block only, reset after each test and restored after the
 * block, so test files do not steal each other's stubs.
 */
export function useClientMock<C extends EC2Client | ECRClient | AutoScalingClient | SSMClient>(cls: {
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

/** Fresh clients for a run: with `useLookupMocks`, none reaches AWS. */
export const mockedClients = (ec2 = new EC2Client({})): UsageClients => ({
    ec2,
    autoScaling: new AutoScalingClient({}),
    ssm: new SSMClient({}),
});

/**
 * Mocks the Auto Scaling and SSM clients for the calling describe block, and answers the in-use lookups that a
 * test does not set up with an account that has no groups, launch configurations, fleets or SSM parameters, and
 * AMIs shared with nobody, no snapshot left by an earlier run, and tags that EC2 accepts.
 * `ec2` is the block's EC2 stub; its defaults are set before each test, so a test can still override them.
 */
export function useLookupMocks(ec2: () => AwsClientStub<EC2Client>) {
    const autoScaling = useClientMock(AutoScalingClient);
    const ssm = useClientMock(SSMClient);
    beforeEach(() => {
        autoScaling().on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
        autoScaling().on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
        ssm().on(DescribeParametersCommand).resolves({ Parameters: [] });
        ec2().on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
        ec2().on(DescribeFleetsCommand).resolves({ Fleets: [] });
        ec2().on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
        ec2().on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
        ec2().on(CreateTagsCommand).resolves({});
        ec2().on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    });
    return { autoScaling, ssm };
}

/**
 * Runs Node in a child process without blocking this one (the moto proxy in this process must keep answering),
 * with `undefined` env values unset. Resolves with the exit code (null if killed at the timeout) and the output.
 */
export function runNode(
    args: string[],
    opts: { cwd: string; env?: NodeJS.ProcessEnv; inheritEnv?: boolean; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    const base = opts.inheritEnv === false ? {} : process.env;
    const env = Object.fromEntries(
        Object.entries({ ...base, ...opts.env }).filter(([, v]) => v !== undefined),
    );
    return new Promise((resolve) => {
        const child = spawn(process.execPath, args, { cwd: opts.cwd, env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => {
            stdout += c;
        });
        child.stderr.on("data", (c: Buffer) => {
            stderr += c;
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

/** A definition's page of work: the Parallel, its deleting Map, and the branch that lists the next page. */
export function pageStates(definition: { States: Record<string, unknown> }) {
    // biome-ignore lint/suspicious/noExplicitAny: the ASL is plain JSON; each test asserts the parts it reads
    const parallel = definition.States.DeletePageState as any;
    const [deleting, refresh] = parallel.Branches;
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return { parallel, map: deleting.States.DeleteImageMapState as any, refresh: refresh as any };
}
