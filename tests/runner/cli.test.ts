// `npm run cleanup` as a user runs it: a separate process, flags, exit codes, and its one JSON document.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
    hoursAgo,
    MOTO_ACCOUNT_ID,
    MOTO_REGION,
    type Moto,
    motoCredentials,
    startMoto,
} from "../../runner/moto";

const ROOT = join(__dirname, "..", "..");

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
    const result = spawnSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "runner/cli.ts", ...args],
        {
            cwd: ROOT,
            encoding: "utf8",
            env: { ...process.env, ...env },
            timeout: 60_000,
        },
    );
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("cleanup CLI", function () {
    this.timeout(120_000);

    for (const [args, message] of [
        [[], "error: --valid-hours is required"],
        [["--valid-hours", "abc"], 'error: --valid-hours must be a whole number 1 or more (got "abc")'],
        [["--valid-hours", "0"], 'error: --valid-hours must be a whole number 1 or more (got "0")'],
        [["--valid-hours", "5", "--bogus"], "error: Unknown option '--bogus'"],
        [
            ["--valid-hours", "5", "--max-concurrency", "99"],
            'error: --max-concurrency must be a whole number from 1 to 40 (got "99")',
        ],
        [
            ["--valid-hours", "5", "--keep-latest=-2"],
            'error: --keep-latest must be a whole number from 0 to 1000 (got "-2")',
        ],
        [
            ["--valid-hours", "5", "--keep-tag", "aws:x"],
            'error: --keep-tag must be a tag key of 1 to 128 characters, not starting with aws: (got "aws:x")',
        ],
    ] as [string[], string][]) {
        it(`exits 2 with a clear error for ${JSON.stringify(args)}`, () => {
            const r = cli(args);
            assert.equal(r.code, 2, r.stderr);
            assert.equal(r.stdout, "");
            assert.ok(r.stderr.startsWith(message), r.stderr);
            assert.match(r.stderr, /usage: npm run cleanup/);
        });
    }

    describe("against moto", () => {
        let moto: Moto;
        const env = () => ({
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_REGION: MOTO_REGION,
            AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
        });
        before(async () => {
            moto = await startMoto({
                amis: [
                    {
                        ami_id: "ami-0c1100000000000a1",
                        name: "old",
                        owner_id: MOTO_ACCOUNT_ID,
                        creation_date: hoursAgo(49),
                        state: "available",
                    },
                    {
                        ami_id: "ami-0c1100000000000b2",
                        name: "new",
                        owner_id: MOTO_ACCOUNT_ID,
                        creation_date: hoursAgo(47),
                        state: "available",
                    },
                ],
            });
        });
        after(async () => moto?.stop());

        it("--dry-run --json prints exactly one JSON document and logs to stderr", () => {
            const r = cli(["--valid-hours", "48", "--dry-run", "--json"], env());
            assert.equal(r.code, 0, r.stderr);
            const doc = JSON.parse(r.stdout);
            assert.equal(r.stdout.trim().split("\n").length, 1);
            assert.deepEqual(Object.keys(doc), [
                "dryRun",
                "validHours",
                "expired",
                "skipped",
                "estimatedGiB",
                "deleted",
                "wouldDelete",
                "skippedSnapshots",
                "failed",
                "stats",
            ]);
            // One execution: the list task, then one batch's two tasks; EC2 calls counted from the run itself.
            const { historyEvents, maxStatePayloadBytes, ...counts } = doc.stats;
            assert.deepEqual(counts, {
                executions: 1,
                lambdaInvocations: 3,
                stateTransitions: 14,
                ec2Calls: {
                    DescribeImages: 2,
                    DescribeInstances: 1,
                    DescribeLaunchTemplates: 1,
                    DeregisterImage: 1,
                    DeleteSnapshot: 1,
                },
            });
            // The fixed 46 events of one page with one batch (tests/runner/stats.test.ts derives them).
            assert.equal(historyEvents, 46);
            assert.ok(
                maxStatePayloadBytes > 100 && maxStatePayloadBytes < 4096,
                `payload ${maxStatePayloadBytes}`,
            );
            assert.deepEqual([doc.dryRun, doc.validHours, doc.deleted, doc.failed], [true, 48, [], []]);
            assert.deepEqual(
                doc.expired.map((e: { imageId: string; name: string }) => [e.imageId, e.name]),
                [["ami-0c1100000000000a1", "old"]],
            );
            assert.match(r.stderr, /"message":"would deregister","imageId":"ami-0c1100000000000a1"/);
        });

        it("prints a table and deletes the expired AMI", () => {
            const r = cli(["--valid-hours", "48"], env());
            assert.equal(r.code, 0, r.stderr);
            assert.match(
                r.stdout,
                /^AMIs older than 48 hours:\nIMAGE ID +NAME +CREATED +RESULT +SNAPSHOTS\nami-0c1100000000000a1 +old +\S+ +deleted +snap-/,
            );
            assert.match(
                r.stdout,
                /expired 1, deleted 1, kept 0, failed 0, about 15 GiB of snapshots\n1 execution\(s\), 3 Lambda invocations, 14 state transitions\n$/,
            );
            assert.match(r.stderr, /1\/1 AMIs done/);
            const again = JSON.parse(cli(["--valid-hours", "48", "--json"], env()).stdout);
            assert.deepEqual(again.expired, []);
        });
    });
});
