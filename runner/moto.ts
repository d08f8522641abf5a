// Local AWS emulator harness: finds or installs moto, starts it on a free loopback port, seeds AMIs, stops it.
// The demo, the benchmark and the tests share it; test fixtures live in tests/.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ECR } from "@aws-sdk/client-ecr";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { UsageClients } from "../functions/core/ami/usage";
import { clientConfig } from "../functions/core/shared/clients";
import { type MotoProxy, type ProxyOptions, startMotoProxy } from "./motoProxy";

/** moto's default account: AMIs seeded with this owner are the account's own. */
export const MOTO_ACCOUNT_ID = "123456789012";
export const MOTO_REGION = "us-east-1";

/** One entry of MOTO_AMIS_PATH, in moto's own field names. */
export interface SeedAmi {
    ami_id: string;
    name: string;
    owner_id: string;
    creation_date: string;
    state?: string;
    tags?: Record<string, string>;
    description?: string;
}

export interface Moto {
    /** The mending proxy in front of moto: what clients talk to. */
    endpoint: string;
    /** moto itself, for a look behind the proxy. */
    motoEndpoint: string;
    proxy: MotoProxy;
    stop(): Promise<void>;
}

const INSTALL_SCRIPT = join(__dirname, "..", "scripts", "install-moto.sh");
let pythonPath: string | undefined;

/** The python that can run `-m moto.server`, installing moto the first time if needed. */
export function findMotoPython(): string {
    pythonPath ??= execFileSync("bash", [INSTALL_SCRIPT], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    return pythonPath;
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() =>
                typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
            );
        });
    });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`moto server exited with code ${child.exitCode}`);
        try {
            const res = await fetch(`${endpoint}/moto-api/`);
            if (res.status < 500) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`moto server did not answer at ${endpoint} within ${timeoutMs} ms`);
}

/**
 * Starts moto server behind the mending proxy (runner/motoProxy.ts); with `amis`, those are the only AMIs it knows
 * (none of moto's public catalogue). `proxy` sets faults or a stall time.
 */
export async function startMoto(opts: { amis?: SeedAmi[]; proxy?: ProxyOptions } = {}): Promise<Moto> {
    const python = findMotoPython();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "image-janitor-moto-"));
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_DEFAULT_REGION: MOTO_REGION };
    if (opts.amis) {
        const amisPath = join(dir, "amis.json");
        writeFileSync(amisPath, JSON.stringify(opts.amis));
        env.MOTO_AMIS_PATH = amisPath;
    } else {
        env.MOTO_EC2_LOAD_DEFAULT_AMIS = "false";
    }
    const child = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
        env,
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const motoEndpoint = `http://127.0.0.1:${port}`;
    try {
        await waitUntilUp(motoEndpoint, child, 30_000);
    } catch (err) {
        child.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`${(err as Error).message}\n${stderr}`);
    }
    const proxy = await startMotoProxy(motoEndpoint, opts.proxy);
    return {
        endpoint: proxy.endpoint,
        motoEndpoint,
        proxy,
        stop: async () => {
            await proxy.stop();
            if (child.exitCode === null) {
                const exited = new Promise((r) => child.once("exit", r));
                child.kill("SIGTERM");
                await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
                if (child.exitCode === null) child.kill("SIGKILL");
            }
            rmSync(dir, { recursive: true, force: true });
        },
    };
}

export const motoCredentials = { accessKeyId: "testing", secretAccessKey: "testing" };

export function motoEc2(endpoint: string): EC2Client {
    return new EC2Client({ endpoint, region: MOTO_REGION, credentials: motoCredentials });
}

/**
 * The clients a cleanup run takes, pointed at moto (through its proxy). With `requestTimeoutMs`, the product's own
 * client settings with that request deadline, short enough for a fault-injecting proxy's stalls to break it.
 */
export function motoClients(endpoint: string, requestTimeoutMs?: number): UsageClients {
    const base = { endpoint, region: MOTO_REGION, credentials: motoCredentials };
    const where =
        requestTimeoutMs === undefined
            ? base
            : {
                  ...clientConfig,
                  requestHandler: { ...clientConfig.requestHandler, requestTimeout: requestTimeoutMs },
                  ...base,
              };
    return {
        ec2: new EC2Client(where),
        autoScaling: new AutoScalingClient(where),
        ssm: new SSMClient(where),
    };
}

/**
 * The fault scenarios' account: `total` AMIs, the first `toDelete` expired, the next `kept` expired but kept by
 * the keep tag, the rest young; what must go and what must stay, by id.
 */
export function faultScenario(total: number, toDelete: number, kept: number) {
    const id = (n: number) => `ami-0f${n.toString(16).padStart(15, "0")}`;
    const seed: SeedAmi[] = [];
    const expired: string[] = [];
    const stay: string[] = [];
    for (let n = 0; n < total; n++) {
        const keep = n >= toDelete && n < toDelete + kept;
        const young = n >= toDelete + kept;
        seed.push({
            ami_id: id(n),
            name: `faulty-${n}`,
            owner_id: MOTO_ACCOUNT_ID,
            creation_date: hoursAgo(young ? 2 : 100),
            state: "available",
            ...(keep ? { tags: { "image-janitor:keep": "true" } } : {}),
        });
        (keep || young ? stay : expired).push(id(n));
    }
    return { seed, expired, stay };
}

/** An ISO timestamp `hours` before `now`, in the format EC2 reports CreationDate. */
export function hoursAgo(hours: number, now = new Date()): string {
    return new Date(now.getTime() - hours * 3_600_000).toISOString();
}

export function motoEcr(endpoint: string): ECR {
    return new ECR({ endpoint, region: MOTO_REGION, credentials: motoCredentials });
}

/** What moto holds, asked past the proxy (so without faults): each AMI's snapshots, and the orphaned snapshots. */
export async function motoState(moto: Moto) {
    const raw = motoEc2(moto.motoEndpoint);
    const images = (await raw.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
    const snapshots = (await raw.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
    const used = new Set(images.flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId)));
    raw.destroy();
    return {
        images: new Map(
            images.map((i) => [
                i.ImageId ?? "",
                (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? ""),
            ]),
        ),
        /** Snapshots no AMI uses: every one of moto's snapshots belongs to a seeded AMI. */
        orphans: snapshots.map((s) => s.SnapshotId ?? "").filter((s) => !used.has(s)),
    };
}
