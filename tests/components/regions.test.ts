// The real program with two regions, in its own process (its config differs from setup.ts's): one cleanup per
// region, each through an explicit provider for that region, and outputs keyed by region.
import * as assert from "node:assert/strict";
import { runProgramProbe } from "../helpers";

// Mocks that remember each explicit provider's region and which provider every resource was registered with.
const PROBE = `
const pulumi = require("@pulumi/pulumi");
const regions = {}; const seen = [];
pulumi.runtime.setMocks({
    newResource: (a) => {
        if (a.type === "pulumi:providers:aws") regions[a.name] = a.inputs.region;
        const provider = a.provider ? a.provider.split("::")[3] : undefined;
        seen.push({ type: a.type, name: a.name, provider, ...(a.type === "aws:rbin/rule:Rule" ? { inputs: a.inputs } : {}) });
        const arn = "arn:aws:mock:" + (regions[provider] || "none") + ":123456789012:" + a.name;
        return { id: a.name + "-id", state: { ...a.inputs, name: a.name, arn } };
    },
    call: (a) => a.token === "aws:index/getPartition:getPartition" ? { partition: "aws" }
        : a.token === "aws:index/getRegion:getRegion" ? { name: "x", region: "x" } : { accountId: "123456789012" },
}, "image-janitor", "multi", false);
const program = require("./index.ts");
program.stateMachineArns.apply((arns) => setTimeout(() => console.log(JSON.stringify({ regions, seen, arns })), 100));
`;

describe("program with several regions", function () {
    this.timeout(60_000);

    it("deploys one cleanup per region through that region's explicit provider, outputs keyed by region", () => {
        const { regions, seen, arns } = runProgramProbe(PROBE, {
            "aws:region": "us-east-1",
            "image-janitor:regions": '["eu-west-1","ap-southeast-2"]',
            "image-janitor:recycleBinDays": "30",
        }) as {
            regions: Record<string, string>;
            seen: { type: string; name: string; provider?: string; inputs?: Record<string, unknown> }[];
            arns: Record<string, string>;
        };
        assert.deepEqual(regions, { "aws-eu-west-1": "eu-west-1", "aws-ap-southeast-2": "ap-southeast-2" });
        const of = (type: string) => seen.filter((s) => s.type === type).map((s) => [s.name, s.provider]);
        assert.deepEqual(of("aws:sfn/stateMachine:StateMachine"), [
            ["ami-cleanup-eu-west-1-machine", "aws-eu-west-1"],
            ["ami-cleanup-ap-southeast-2-machine", "aws-ap-southeast-2"],
        ]);
        assert.deepEqual(
            of("aws:lambda/function:Function").map(([name, provider]) => `${name} ${provider}`),
            [
                "ami-cleanup-eu-west-1-list aws-eu-west-1",
                "ami-cleanup-eu-west-1-deregister aws-eu-west-1",
                "ami-cleanup-eu-west-1-snapshots aws-eu-west-1",
                "ami-cleanup-ap-southeast-2-list aws-ap-southeast-2",
                "ami-cleanup-ap-southeast-2-deregister aws-ap-southeast-2",
                "ami-cleanup-ap-southeast-2-snapshots aws-ap-southeast-2",
            ],
        );
        // Recycle Bin rules are regional: each region's cleanup has its own two, through its own provider.
        assert.deepEqual(
            seen
                .filter((s) => s.type === "aws:rbin/rule:Rule")
                .map((s) => [
                    s.name,
                    s.provider,
                    s.inputs?.resourceType,
                    s.inputs?.retentionPeriod,
                    s.inputs?.resourceTags,
                ]),
            ["eu-west-1", "ap-southeast-2"].flatMap((region) =>
                (["images", "snapshots"] as const).map((key) => [
                    `ami-cleanup-${region}-bin-${key}`,
                    `aws-${region}`,
                    key === "images" ? "EC2_IMAGE" : "EBS_SNAPSHOT",
                    { retentionPeriodValue: 30, retentionPeriodUnit: "DAYS" },
                    [{ resourceTagKey: "image-janitor:deleting", resourceTagValue: "true" }],
                ]),
            ),
        );
        assert.deepEqual(arns, {
            "eu-west-1": "arn:aws:mock:eu-west-1:123456789012:ami-cleanup-eu-west-1-machine",
            "ap-southeast-2": "arn:aws:mock:ap-southeast-2:123456789012:ami-cleanup-ap-southeast-2-machine",
        });
        // Every AWS resource of a region's cleanup goes through that region's provider, not the default one.
        for (const region of ["eu-west-1", "ap-southeast-2"]) {
            const mine = seen.filter(
                (s) => s.type.startsWith("aws:") && s.name.startsWith(`ami-cleanup-${region}-`),
            );
            assert.ok(mine.length >= 15, `${mine.length} resources in ${region}`);
            for (const s of mine) assert.equal(s.provider, `aws-${region}`, `${s.type} ${s.name}`);
        }
    });
});
