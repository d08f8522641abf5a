// The undo stages in the program (mock runtime): Recycle Bin rules that keep only the cleanup's own deletions,
// created before the state machine that deletes, and the IAM the first stage (DisableImage) needs, only when on.
import * as assert from "node:assert/strict";
import { AmiCleanup } from "../../components/amiCleanup";
import { restorePolicy } from "../../components/policies";
import { recycleBinRuleArgs } from "../../components/recycleBin";
import { settingsWith } from "../../functions/core/ami/settings";
import { ACCOUNT_ID, dependenciesOf, outputValue, REGION, registered, urnOf } from "../setup";

const COMPONENT = "image-janitor:ami:AmiCleanup";
const RULE = "aws:rbin/rule:Rule";
const MACHINE = "aws:sfn/stateMachine:StateMachine";
const mine = (type: string, prefix: string) => registered(type).filter((r) => r.name.startsWith(prefix));

describe("undo: Recycle Bin rules and the disable stage (mock runtime)", () => {
    it("keeps the cleanup's deleted AMIs and snapshots for recycleBinDays, matched by its deletion tag only", async () => {
        const cleanup = new AmiCleanup("undo-on", {
            settings: settingsWith({ validHours: 24, recycleBinDays: 14, disableForHours: 48 }),
        });
        const arns = await outputValue(cleanup.recycleBinRuleArns);
        await outputValue(cleanup.stateMachineArn);
        const rules = mine(RULE, "undo-on-");
        assert.deepEqual(
            rules.map((r) => [r.name, r.inputs]),
            [
                [
                    "undo-on-bin-images",
                    {
                        description: "image-janitor: keeps the AMIs the AMI cleanup deletes for 14 days",
                        resourceType: "EC2_IMAGE",
                        resourceTags: [
                            { resourceTagKey: "image-janitor:deleting", resourceTagValue: "true" },
                        ],
                        retentionPeriod: { retentionPeriodValue: 14, retentionPeriodUnit: "DAYS" },
                        tags: { "image-janitor:component": "ami-cleanup" },
                    },
                ],
                [
                    "undo-on-bin-snapshots",
                    {
                        description:
                            "image-janitor: keeps the EBS snapshots the AMI cleanup deletes for 14 days",
                        resourceType: "EBS_SNAPSHOT",
                        resourceTags: [
                            { resourceTagKey: "image-janitor:deleting", resourceTagValue: "true" },
                        ],
                        retentionPeriod: { retentionPeriodValue: 14, retentionPeriodUnit: "DAYS" },
                        tags: { "image-janitor:component": "ami-cleanup" },
                    },
                ],
            ],
        );
        assert.deepEqual(arns, {
            images: `arn:aws:rbin:${REGION}:${ACCOUNT_ID}:rule/undo-on-bin-images-0a1b2c3`,
            snapshots: `arn:aws:rbin:${REGION}:${ACCOUNT_ID}:rule/undo-on-bin-snapshots-0a1b2c3`,
        });
        // A managed policy for whoever may undo, with exactly what `npm run restore` needs in this region.
        const [policy] = mine("aws:iam/policy:Policy", "undo-on-");
        assert.equal(policy.name, "undo-on-restore");
        assert.deepEqual(
            JSON.parse(policy.inputs.policy as string),
            restorePolicy({ partition: "aws", region: REGION, accountId: ACCOUNT_ID }),
        );
        assert.equal(
            await outputValue(cleanup.restorePolicyArn),
            `arn:aws:iam::${ACCOUNT_ID}:policy/undo-on-restore-0a1b2c3`,
        );
        // Nothing is deleted before the rules that keep it exist.
        const before = dependenciesOf(MACHINE, "undo-on-machine").all;
        for (const key of ["images", "snapshots"])
            assert.ok(
                before.includes(urnOf(RULE, `undo-on-bin-${key}`, COMPONENT)),
                `machine after the ${key} rule`,
            );
    });

    it("lets the deregister function disable (never enable) AMIs and write the disabled-at tag only with disableForHours", async () => {
        const on = new AmiCleanup("undo-iam-on", {
            settings: settingsWith({ validHours: 24, disableForHours: 48 }),
        });
        const off = new AmiCleanup("undo-iam-off", { settings: settingsWith({ validHours: 24 }) });
        await outputValue(on.stateMachineArn);
        await outputValue(off.stateMachineArn);
        const policyOf = (prefix: string) => {
            const p = mine("aws:iam/rolePolicy:RolePolicy", `${prefix}-deregister`)[0];
            return JSON.parse(p.inputs.policy as string).Statement as {
                Sid: string;
                Action: string | string[];
                Condition?: unknown;
            }[];
        };
        for (const [prefix, actions, keys] of [
            [
                "undo-iam-on",
                ["ec2:DisableImage", "ec2:DeregisterImage"],
                ["image-janitor:deleting", "image-janitor:image-id", "image-janitor:disabled-at"],
            ],
            ["undo-iam-off", "ec2:DeregisterImage", ["image-janitor:deleting", "image-janitor:image-id"]],
        ] as const) {
            const statements = policyOf(prefix);
            assert.deepEqual(statements.find((s) => s.Sid === "DeregisterImages")?.Action, actions);
            assert.deepEqual(statements.find((s) => s.Sid === "MarkForDeletion")?.Condition, {
                "ForAllValues:StringEquals": { "aws:TagKeys": keys },
            });
            const every = statements.flatMap((s) => ([] as string[]).concat(s.Action));
            assert.ok(!every.includes("ec2:EnableImage"), "the cleanup never re-enables");
        }
        // recycleBinDays 0: no rules, and no output.
        assert.deepEqual(mine(RULE, "undo-iam-"), []);
        assert.deepEqual(mine("aws:iam/policy:Policy", "undo-iam-"), []);
        assert.equal(await outputValue(off.recycleBinRuleArns), undefined);
    });

    it("refuses a retention the Recycle Bin does not allow, naming the value", () => {
        assert.throws(
            () => recycleBinRuleArgs("images", 0),
            /recycleBinDays must be .* from 1 to 365 \(got 0\)/,
        );
        assert.throws(() => recycleBinRuleArgs("snapshots", 366), /\(got 366\)/);
        assert.equal(recycleBinRuleArgs("images", 365).retentionPeriod.retentionPeriodValue, 365);
    });
});
