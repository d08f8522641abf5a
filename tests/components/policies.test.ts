// IAM builders, without mocks: exact documents, and no mutating action on "*".
import * as assert from "node:assert/strict";
import {
    deleteSnapshotsPolicy,
    deregisterImagePolicy,
    listImagesPolicy,
    type PolicyDocument,
    restorePolicy,
    schedulerPolicy,
    stateMachinePolicy,
    stateMachineSelfPolicy,
} from "../../components/policies";

const scope = { partition: "aws-us-gov", region: "us-gov-west-1", accountId: "111122223333" };
const LOG = "arn:aws-us-gov:logs:us-gov-west-1:111122223333:log-group:x";

/** Actions AWS documents without resource-level permissions: `*` is the only scope it accepts. */
const STAR_ONLY = new Set([
    "ec2:DescribeImages",
    "ec2:DescribeSnapshots",
    "ec2:DescribeTags",
    "ec2:ListImagesInRecycleBin",
    "ec2:ListSnapshotsInRecycleBin",
    "ec2:DescribeImageAttribute",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeFleets",
    "ec2:DescribeSpotFleetRequests",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "ssm:DescribeParameters",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]);

describe("IAM policy builders", () => {
    const all: PolicyDocument[] = [
        listImagesPolicy(LOG, scope),
        deregisterImagePolicy(LOG, scope, { disableForHours: 0 }),
        deregisterImagePolicy(LOG, scope, { disableForHours: 24 }),
        deleteSnapshotsPolicy(LOG, scope),
        restorePolicy(scope),
        stateMachinePolicy(["arn:fn:1"]),
        schedulerPolicy("arn:sm"),
        stateMachineSelfPolicy("arn:sm"),
    ];

    it("grants `*` only to actions that have no resource-level permissions", () => {
        for (const doc of all) {
            for (const st of doc.Statement) {
                const resources = ([] as unknown[]).concat(st.Resource ?? []);
                if (!resources.includes("*")) continue;
                for (const action of ([] as string[]).concat(st.Action))
                    assert.ok(STAR_ONLY.has(action), `${action} on *`);
            }
        }
    });

    it("reads SSM parameters of the account and region only", () => {
        assert.deepEqual(listImagesPolicy(LOG, scope).Statement[2], {
            Sid: "ReadImageParameters",
            Effect: "Allow",
            Action: "ssm:GetParameters",
            Resource: "arn:aws-us-gov:ssm:us-gov-west-1:111122223333:parameter/*",
        });
    });

    it("scopes AMI and snapshot deletion to the region's image and snapshot ARNs in the right partition", () => {
        assert.deepEqual(deregisterImagePolicy(LOG, scope, { disableForHours: 0 }).Statement[2], {
            Sid: "DeregisterImages",
            Effect: "Allow",
            Action: "ec2:DeregisterImage",
            Resource: "arn:aws-us-gov:ec2:us-gov-west-1::image/*",
        });
        // The first stage, only when it is on; never EnableImage: the cleanup does not re-enable.
        assert.deepEqual(deregisterImagePolicy(LOG, scope, { disableForHours: 24 }).Statement[2], {
            Sid: "DeregisterImages",
            Effect: "Allow",
            Action: ["ec2:DisableImage", "ec2:DeregisterImage"],
            Resource: "arn:aws-us-gov:ec2:us-gov-west-1::image/*",
        });
        assert.deepEqual(deleteSnapshotsPolicy(LOG, scope).Statement[1], {
            Sid: "DeleteSnapshots",
            Effect: "Allow",
            Action: "ec2:DeleteSnapshot",
            Resource: "arn:aws-us-gov:ec2:us-gov-west-1::snapshot/*",
        });
    });

    it("lets the deregister function tag images and snapshots with the cleanup's own tag keys only", () => {
        assert.deepEqual(deregisterImagePolicy(LOG, scope, { disableForHours: 0 }).Statement[4].Condition, {
            "ForAllValues:StringEquals": {
                "aws:TagKeys": ["image-janitor:deleting", "image-janitor:image-id"],
            },
        });
        assert.deepEqual(deregisterImagePolicy(LOG, scope, { disableForHours: 24 }).Statement[4], {
            Sid: "MarkForDeletion",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: [
                "arn:aws-us-gov:ec2:us-gov-west-1::image/*",
                "arn:aws-us-gov:ec2:us-gov-west-1::snapshot/*",
            ],
            Condition: {
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": [
                        "image-janitor:deleting",
                        "image-janitor:image-id",
                        "image-janitor:disabled-at",
                    ],
                },
            },
        });
    });

    it("lets the state machine invoke exactly the functions it is given", () => {
        assert.deepEqual(stateMachinePolicy(["arn:a", "arn:b"]).Statement[0].Resource, ["arn:a", "arn:b"]);
        assert.deepEqual(schedulerPolicy("arn:sm").Statement, [
            { Sid: "StartCleanup", Effect: "Allow", Action: "states:StartExecution", Resource: "arn:sm" },
        ]);
    });

    it("lets the state machine list and start executions of itself only", () => {
        assert.deepEqual(stateMachineSelfPolicy("arn:sm").Statement, [
            { Sid: "CheckOverlap", Effect: "Allow", Action: "states:ListExecutions", Resource: "arn:sm" },
            { Sid: "ContinueAsNew", Effect: "Allow", Action: "states:StartExecution", Resource: "arn:sm" },
        ]);
    });

    it("lets whoever undoes restore, enable and write or remove only the cleanup's tags, in the region", () => {
        const [find, images, snapshots, mark, remove] = restorePolicy(scope).Statement;
        assert.deepEqual(find.Action, [
            "ec2:ListImagesInRecycleBin",
            "ec2:ListSnapshotsInRecycleBin",
            "ec2:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeSnapshots",
        ]);
        assert.deepEqual(images, {
            Sid: "RestoreImages",
            Effect: "Allow",
            Action: ["ec2:RestoreImageFromRecycleBin", "ec2:EnableImage"],
            Resource: "arn:aws-us-gov:ec2:us-gov-west-1::image/*",
        });
        assert.deepEqual(snapshots.Resource, "arn:aws-us-gov:ec2:us-gov-west-1::snapshot/*");
        assert.deepEqual(mark.Condition, {
            "ForAllValues:StringEquals": { "aws:TagKeys": ["image-janitor:restored-at"] },
        });
        // Null: a DeleteTags that names no tag (and so deletes every one, the keep tag included) is refused.
        assert.deepEqual(remove.Condition, {
            "ForAllValues:StringEquals": {
                "aws:TagKeys": [
                    "image-janitor:deleting",
                    "image-janitor:image-id",
                    "image-janitor:disabled-at",
                    "image-janitor:restored-at",
                ],
            },
            Null: { "aws:TagKeys": "false" },
        });
    });
});
