// `npm run cleanup` as a user runs it: a separate process, flags, exit codes, and its one JSON document.
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    CreateStateMachineCommand,
    SFNClient,
    StartExecutionCommand,
    StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { parseCli } from "../../runner/cli";
import {
    hoursAgo,
    MOTO_ACCOUNT_ID,
    MOTO_REGION,
    type Moto,
    motoCredentials,
    startMoto,
} from "../../runner/moto";
import { runNode } from "../helpers";

const ROOT = join(__dirname, "..", "..");

/**
 * `npm run cleanup` in its own process, as npm runs it (built JavaScript, scripts/run-built.js), not blocking this
 * one: the moto proxy here must keep answering.
 */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runNode(["scripts/run-built.js", "cleanup", ...args], { cwd: ROOT, env });

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
        [
            ["--valid-hours", "5", "--keep-tag-key", "aws:x"],
            'error: --keep-tag-key must be a tag key of 1 to 128 characters, not starting with aws: (got "aws:x")',
        ],
        [
            ["--valid-hours", "5", "--keep-tag", "a", "--keep-tag-key", "b"],
            "error: --keep-tag and --keep-tag-key are the same setting; give one",
        ],
        [["--valid-hours", "5", "--valid-hours", "6"], "error: --valid-hours is given 2 times; give it once"],
        [["--valid-hours", "5", "--dry-run", "--dry-run"], "error: --dry-run is given 2 times; give it once"],
        [
            ["--valid-hours", "5", "--group-by-tag", "app"],
            'error: --group-by-tag must be empty while --keep-latest is 0: it groups AMIs for --keep-latest and does nothing else; set --keep-latest to 1 or more (got "app")',
        ],
        [
            ["--valid-hours", "5", "--region", "us-east-1", "--region", "xx-nowhere-9"],
            'error: --region must be an AWS region, e.g. us-east-1 or eu-west-1 (got "xx-nowhere-9")',
        ],
        [
            ["--valid-hours", "5", "--region", "us-east-1", "--region", "us-east-1"],
            'error: --region must be regions without repeats (us-east-1 is given twice) (got ["us-east-1","us-east-1"])',
        ],
        [
            ["--valid-hours", "5", "--profile", ""],
            'error: --profile must be a profile name from ~/.aws/config (got "")',
        ],
    ] as [string[], string][]) {
        it(`exits 2 with a clear error for ${JSON.stringify(args)}`, async () => {
            const r = await cli(args);
            assert.equal(r.code, 2, r.stderr);
            assert.equal(r.stdout, "");
            assert.ok(r.stderr.startsWith(message), r.stderr);
            assert.match(r.stderr, /usage: npm run cleanup/);
        });
    }

    it("paces EC2 calls unless --unpaced is given", () => {
        assert.equal(parseCli(["--valid-hours", "5"]).unpaced, false);
        assert.equal(parseCli(["--valid-hours", "5", "--unpaced"]).unpaced, true);
    });

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
                    {
                        ami_id: "ami-0c1100000000000c3",
                        name: "golden",
                        owner_id: MOTO_ACCOUNT_ID,
                        creation_date: hoursAgo(60),
                        state: "available",
                        tags: { "image-janitor:keep": "true" },
                    },
                ],
            });
        });
        after(async () => moto?.stop());

        it("--dry-run --json prints exactly one JSON document and logs to stderr", async () => {
            const r = await cli(["--valid-hours", "48", "--dry-run", "--json"], env());
            assert.equal(r.code, 0, r.stderr);
            const doc = JSON.parse(r.stdout);
            assert.equal(r.stdout.trim().split("\n").length, 1);
            assert.deepEqual(Object.keys(doc), [
                "region",
                "dryRun",
                "validHours",
                "expired",
                "skipped",
                "estimatedGiB",
                "deleted",
                "wouldDelete",
                "disabled",
                "wouldDisable",
                "alreadyGone",
                "skippedSnapshots",
                "failed",
                "strays",
                "stats",
            ]);
            // One execution: the list task, then one batch's two tasks; EC2 calls counted from the run itself.
            const { historyEvents, maxStatePayloadBytes, ...counts } = doc.stats;
            assert.deepEqual(counts, {
                executions: 1,
                lambdaInvocations: 3,
                stateTransitions: 17,
                ec2Calls: {
                    DescribeImages: 2,
                    DescribeInstances: 1,
                    DescribeLaunchTemplateVersions: 1,
                    DescribeFleets: 1,
                    DescribeSpotFleetRequests: 1,
                    DescribeSnapshots: 1,
                    DescribeImageAttribute: 1,
                    CreateTags: 1,
                    DeregisterImage: 1,
                    DeleteSnapshot: 1,
                },
            });
            // The fixed 54 events of one page with one batch (tests/runner/stats.test.ts derives them).
            assert.equal(historyEvents, 54);
            assert.ok(
                maxStatePayloadBytes > 100 && maxStatePayloadBytes < 4096,
                `payload ${maxStatePayloadBytes}`,
            );
            assert.deepEqual([doc.dryRun, doc.validHours, doc.deleted, doc.failed], [true, 48, [], []]);
            // `expired` is every AMI older than 48 hours, the kept one included.
            assert.deepEqual(
                doc.expired.map((e: { imageId: string; name: string }) => [e.imageId, e.name]),
                [
                    ["ami-0c1100000000000a1", "old"],
                    ["ami-0c1100000000000c3", "golden"],
                ],
            );
            assert.deepEqual(doc.skipped, [{ imageId: "ami-0c1100000000000c3", reason: "keep-tag" }]);
            assert.equal(doc.region, MOTO_REGION);
            assert.match(r.stderr, /"message":"would deregister","imageId":"ami-0c1100000000000a1"/);
        });

        it("a dry run's table counts every expired AMI, the kept one included", async () => {
            const r = await cli(["--valid-hours", "48", "--dry-run"], env());
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^Dry run: AMIs older than 48 hours, nothing deleted\.\n/);
            assert.match(r.stdout, /\nexpired 2, would delete 1, already gone 0, kept 1, failed 0, /);
        });

        it("--region, repeated, runs in each region: one JSON document keyed by region", async () => {
            // moto 5 fails DescribeImages outside us-east-1 when AMIs are seeded from a file: an unseeded one.
            const empty = await startMoto();
            const args = ["--valid-hours", "48", "--dry-run", "--json", "--region", "us-east-1"];
            let r: Awaited<ReturnType<typeof cli>>;
            try {
                r = await cli([...args, "--region", "eu-west-1"], {
                    ...env(),
                    AWS_ENDPOINT_URL: empty.endpoint,
                });
            } finally {
                await empty.stop();
            }
            assert.equal(r.code, 0, r.stderr);
            const doc = JSON.parse(r.stdout);
            assert.deepEqual(Object.keys(doc), ["regions"]);
            assert.deepEqual(Object.keys(doc.regions), ["us-east-1", "eu-west-1"]);
            for (const [region, run] of Object.entries(doc.regions) as [string, { region: string }][])
                assert.equal(run.region, region);
        });

        it("--profile takes the region and credentials from that profile, as the AWS CLI does", async () => {
            const dir = mkdtempSync(join(tmpdir(), "image-janitor-profile-"));
            try {
                writeFileSync(join(dir, "config"), "[profile janitor]\nregion = us-east-1\n");
                writeFileSync(
                    join(dir, "credentials"),
                    "[janitor]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
                );
                const r = await cli(["--valid-hours", "48", "--dry-run", "--json", "--profile", "janitor"], {
                    AWS_ENDPOINT_URL: moto.endpoint,
                    AWS_REGION: undefined,
                    AWS_ACCESS_KEY_ID: undefined,
                    AWS_SECRET_ACCESS_KEY: undefined,
                    AWS_CONFIG_FILE: join(dir, "config"),
                    AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
                });
                assert.equal(r.code, 0, r.stderr);
                const doc = JSON.parse(r.stdout);
                assert.equal(doc.region, "us-east-1");
                assert.equal(doc.expired.length, 2, "the profile's credentials reached the seeded account");
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("prints a table and deletes the expired AMI", async () => {
            const r = await cli(["--valid-hours", "48"], env());
            assert.equal(r.code, 0, r.stderr);
            assert.match(
                r.stdout,
                /^AMIs older than 48 hours:\nIMAGE ID +NAME +CREATED +RESULT +SNAPSHOTS\nami-0c1100000000000a1 +old +\S+ +deleted +snap-\S+\nami-0c1100000000000c3 +golden +\S+ +kept: keep-tag +snap-/,
            );
            assert.match(
                r.stdout,
                /expired 2, deleted 1, already gone 0, kept 1, failed 0, about 15 GiB of snapshots\n1 execution\(s\), 3 Lambda invocations, 17 state transitions\n$/,
            );
            assert.match(r.stderr, /1\/1 AMIs done/);
            const again = JSON.parse((await cli(["--valid-hours", "48", "--json"], env())).stdout);
            assert.deepEqual(
                again.expired.map((e: { imageId: string }) => e.imageId),
                ["ami-0c1100000000000c3"],
            );
            assert.deepEqual([again.deleted, again.wouldDelete], [[], []]);
        });
    });

    describe("beside a deployed cleanup", () => {
        let moto: Moto;
        let sfn: SFNClient;
        let machineArn = "";
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
                        ami_id: "ami-0d1100000000000a1",
                        name: "old",
                        owner_id: MOTO_ACCOUNT_ID,
                        creation_date: hoursAgo(49),
                        state: "available",
                    },
                ],
            });
            sfn = new SFNClient({
                endpoint: moto.endpoint,
                region: MOTO_REGION,
                credentials: motoCredentials,
            });
            const definition = JSON.stringify({
                StartAt: "Wait",
                States: { Wait: { Type: "Pass", End: true } },
            });
            const roleArn = `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/cleanup`;
            // Another state machine, untagged, running: not a cleanup.
            const other = await sfn.send(
                new CreateStateMachineCommand({ name: "other", definition, roleArn }),
            );
            await sfn.send(new StartExecutionCommand({ stateMachineArn: other.stateMachineArn }));
            const machine = await sfn.send(
                new CreateStateMachineCommand({
                    name: "ami-cleanup-us-east-1-machine",
                    definition,
                    roleArn,
                    tags: [{ key: "image-janitor:component", value: "ami-cleanup" }],
                }),
            );
            machineArn = machine.stateMachineArn ?? "";
        });
        after(async () => moto?.stop());

        it("refuses to delete while the deployed cleanup of the region runs, naming it; a dry run and --force go on", async () => {
            const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn }));
            const refused = await cli(["--valid-hours", "48", "--json"], env());
            assert.equal(refused.code, 6, refused.stderr);
            const doc = JSON.parse(refused.stdout);
            assert.equal(doc.error.name, "ImageJanitor.DeployedRunInProgress");
            assert.match(
                doc.error.message,
                new RegExp(`^a deployed cleanup is running in us-east-1 \\(${started.executionArn}\\);`),
            );
            const dry = await cli(["--valid-hours", "48", "--dry-run", "--json"], env());
            assert.equal(dry.code, 0, dry.stderr);
            assert.equal(JSON.parse(dry.stdout).wouldDelete.length, 1, "nothing was deleted");
            await sfn.send(new StopExecutionCommand({ executionArn: started.executionArn }));
            const after = await cli(["--valid-hours", "48", "--json"], env());
            assert.equal(after.code, 0, after.stderr);
            assert.deepEqual(
                JSON.parse(after.stdout).deleted.map((d: { imageId: string }) => d.imageId),
                ["ami-0d1100000000000a1"],
            );
        });

        it("--force runs beside it", async () => {
            await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn }));
            const forced = await cli(["--valid-hours", "48", "--json", "--force"], env());
            assert.equal(forced.code, 0, forced.stderr);
        });
    });

    describe("when AWS cannot be used", () => {
        let server: Server;
        let deniedEndpoint = "";
        before(async () => {
            // Answers every EC2 call as EC2 does when IAM refuses it (the EC2 API reference's error format).
            server = createServer((_req, res) => {
                res.writeHead(403, { "content-type": "text/xml" });
                res.end(
                    "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>",
                );
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            deniedEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => server?.close());

        const creds = {
            AWS_ACCESS_KEY_ID: "testing",
            AWS_SECRET_ACCESS_KEY: "testing",
            AWS_REGION: "eu-west-1",
        };
        const cases: [string, NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv), number, RegExp][] = [
            [
                "an unreachable endpoint",
                { ...creds, AWS_ENDPOINT_URL: "http://127.0.0.1:9" },
                3,
                /^cannot reach EC2 in eu-west-1 at http:\/\/127\.0\.0\.1:9: ImageJanitor\.Unreachable: listing the account's AMIs: DescribeImages failed: .*ECONNREFUSED/,
            ],
            [
                "missing credentials",
                {
                    AWS_REGION: "eu-west-1",
                    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
                    AWS_ACCESS_KEY_ID: undefined,
                    AWS_SECRET_ACCESS_KEY: undefined,
                    AWS_PROFILE: undefined,
                    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
                    AWS_CONFIG_FILE: "/nonexistent/config",
                    AWS_EC2_METADATA_DISABLED: "true",
                },
                4,
                /^no usable AWS credentials for EC2 in eu-west-1 at http:\/\/127\.0\.0\.1:9: ImageJanitor\.NoCredentials: listing the account's AMIs: DescribeImages failed: CredentialsProviderError: /,
            ],
            [
                "access denied",
                () => ({ ...creds, AWS_ENDPOINT_URL: deniedEndpoint }),
                5,
                /^access denied by EC2 in eu-west-1 at http:\/\/127\.0\.0\.1:\d+: ImageJanitor\.AccessDenied: listing the account's AMIs: DescribeImages failed: UnauthorizedOperation: You are not authorized to perform this operation\.$/,
            ],
        ];
        it("exits 3 before deleting anything when it cannot even check for a running deployed cleanup", async () => {
            const r = await cli(["--valid-hours", "48"], {
                ...creds,
                AWS_ENDPOINT_URL: "http://127.0.0.1:9",
            });
            assert.equal(r.code, 3, r.stderr);
            assert.match(
                r.stderr,
                /^error: could not check whether a deployed cleanup is running in eu-west-1 at http:\/\/127\.0\.0\.1:9: .*give --force to run without the check\n$/,
            );
        });

        for (const [what, env, code, message] of cases) {
            it(`exits ${code} on ${what}, naming the call, region and endpoint, with --json still one document`, async () => {
                const e = typeof env === "function" ? env() : env;
                // A dry run: a real one checks for a running deployed cleanup first (tested below).
                const table = await cli(["--valid-hours", "48", "--dry-run"], e);
                assert.equal(table.code, code, table.stderr);
                assert.match(table.stderr.replace(/^error: /, "").trimEnd(), message);
                const json = await cli(["--valid-hours", "48", "--dry-run", "--json"], e);
                assert.equal(json.code, code, json.stderr);
                const doc = JSON.parse(json.stdout);
                assert.deepEqual(Object.keys(doc), ["region", "error"]);
                assert.equal(doc.region, "eu-west-1");
                assert.match(doc.error.message, message);
            });
        }
    });
});
