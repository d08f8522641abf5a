// Pure builders for every IAM document the program attaches: plain values in, plain JSON-able objects out.
import type { CleanupSettings } from "../functions/core/ami/settings";
import {
    CLEANUP_TAG_KEYS,
    DELETING_TAG,
    DISABLED_AT_TAG_KEY,
    IMAGE_ID_TAG_KEY,
    RESTORED_AT_TAG_KEY,
} from "../functions/core/ami/tags";

export interface Statement {
    Sid?: string;
    Effect: "Allow";
    Action: string | string[];
    /** ARNs, or CloudFormation intrinsics (Fn::GetAtt, Fn::Sub) in the standalone template. */
    Resource?: string | string[] | Record<string, unknown>;
    Principal?: Record<string, string>;
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: Statement[];
}

export interface Scope {
    partition: string;
    region: string;
    accountId: string;
}

const doc = (...Statement: Statement[]): PolicyDocument => ({ Version: "2012-10-17", Statement });

/** Trust policy for a service; `accountId` adds the confused-deputy guard AWS recommends. */
export function assumeRolePolicy(service: string, accountId?: string): PolicyDocument {
    return doc({
        Effect: "Allow",
        Action: "sts:AssumeRole",
        Principal: { Service: service },
        ...(accountId ? { Condition: { StringEquals: { "aws:SourceAccount": accountId } } } : {}),
    });
}

/** Writing to its own log group only (not the AWSLambdaBasicExecutionRole `*`): `logStreams` is `<log group ARN>:*`. */
export function logWriteStatement(logStreams: Statement["Resource"]): Statement {
    return {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: logStreams,
    };
}

/**
 * Read-only: the images, and every place AWS launches from. EC2's and Auto Scaling's Describe actions and SSM's
 * DescribeParameters have no resource-level permissions (AWS requires `*`); GetParameters is scoped to the
 * region's parameters.
 */
export function listImagesPolicy(logGroupArn: string, s: Scope): PolicyDocument {
    return doc(
        logWriteStatement(`${logGroupArn}:*`),
        {
            Sid: "DescribeImagesAndTheirUsers",
            Effect: "Allow",
            Action: [
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeFleets",
                "ec2:DescribeSpotFleetRequests",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeLaunchConfigurations",
                "ssm:DescribeParameters",
                "ec2:DescribeSnapshots",
            ],
            Resource: "*",
        },
        {
            Sid: "ReadImageParameters",
            Effect: "Allow",
            Action: "ssm:GetParameters",
            Resource: `arn:${s.partition}:ssm:${s.region}:${s.accountId}:parameter/*`,
        },
    );
}

/**
 * AMI and snapshot ARNs carry no account id, so the narrowest scope is every image and snapshot in the region.
 * DisableImage is disableForHours' first stage; EnableImage is not here: the cleanup never re-enables, a person
 * does (and is obeyed). DeleteSnapshot is here because DeregisterImage's DeleteAssociatedSnapshots deletes them in the same call;
 * DescribeImages re-checks each batch just before deleting, and DescribeImageAttribute reads launch permissions.
 */
export function deregisterImagePolicy(
    logGroupArn: string,
    s: Scope,
    settings: Pick<CleanupSettings, "disableForHours">,
): PolicyDocument {
    return doc(
        logWriteStatement(`${logGroupArn}:*`),
        {
            Sid: "RecheckImages",
            Effect: "Allow",
            Action: ["ec2:DescribeImages", "ec2:DescribeImageAttribute"],
            Resource: "*",
        },
        {
            Sid: "DeregisterImages",
            Effect: "Allow",
            // Only when the first stage is on: with disableForHours 0 the cleanup never disables.
            Action:
                settings.disableForHours > 0
                    ? ["ec2:DisableImage", "ec2:DeregisterImage"]
                    : "ec2:DeregisterImage",
            Resource: `arn:${s.partition}:ec2:${s.region}::image/*`,
        },
        {
            Sid: "DeleteAssociatedSnapshots",
            Effect: "Allow",
            Action: "ec2:DeleteSnapshot",
            Resource: `arn:${s.partition}:ec2:${s.region}::snapshot/*`,
        },
        tagOwnKeysStatement(
            "MarkForDeletion",
            s,
            CLEANUP_TAG_KEYS.filter((key) => settings.disableForHours > 0 || key !== DISABLED_AT_TAG_KEY),
        ),
    );
}

/**
 * CreateTags on the region's images and snapshots, for the cleanup's own tag keys only: `aws:TagKeys` must be a
 * subset of them, so no other tag can be written or overwritten.
 */
export function tagOwnKeysStatement(sid: string, s: Scope, keys: string[]): Statement {
    return {
        Sid: sid,
        Effect: "Allow",
        Action: "ec2:CreateTags",
        Resource: [
            `arn:${s.partition}:ec2:${s.region}::image/*`,
            `arn:${s.partition}:ec2:${s.region}::snapshot/*`,
        ],
        Condition: { "ForAllValues:StringEquals": { "aws:TagKeys": keys } },
    };
}

/**
 * Snapshot ARNs carry no account id either: every snapshot in the region. What to delete comes from
 * DeregisterImage's own answer and the listing, so nothing is looked up here.
 */
export function deleteSnapshotsPolicy(logGroupArn: string, s: Scope): PolicyDocument {
    const snapshots = `arn:${s.partition}:ec2:${s.region}::snapshot/*`;
    return doc(
        logWriteStatement(`${logGroupArn}:*`),
        { Sid: "DeleteSnapshots", Effect: "Allow", Action: "ec2:DeleteSnapshot", Resource: snapshots },
        {
            // An orphan is tagged as the cleanup's deletion before it goes, so the Recycle Bin keeps it too.
            Sid: "MarkOrphansForDeletion",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: snapshots,
            Condition: {
                "ForAllValues:StringEquals": { "aws:TagKeys": [DELETING_TAG.Key, IMAGE_ID_TAG_KEY] },
            },
        },
    );
}

/**
 * What `npm run restore` needs in a region, for the people who may undo the cleanup (the program creates it as a
 * managed policy to attach to them; the cleanup's own roles never get it). The Recycle Bin's list calls and the
 * Describe calls have no resource-level permissions; restoring, enabling and the tags are scoped to the region's
 * images and snapshots, and the tags to the cleanup's own keys.
 */
export function restorePolicy(s: Scope): PolicyDocument {
    const images = `arn:${s.partition}:ec2:${s.region}::image/*`;
    const snapshots = `arn:${s.partition}:ec2:${s.region}::snapshot/*`;
    return doc(
        {
            Sid: "FindDeletions",
            Effect: "Allow",
            Action: [
                "ec2:ListImagesInRecycleBin",
                "ec2:ListSnapshotsInRecycleBin",
                "ec2:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeSnapshots",
            ],
            Resource: "*",
        },
        {
            Sid: "RestoreImages",
            Effect: "Allow",
            Action: ["ec2:RestoreImageFromRecycleBin", "ec2:EnableImage"],
            Resource: images,
        },
        {
            Sid: "RestoreSnapshots",
            Effect: "Allow",
            Action: "ec2:RestoreSnapshotFromRecycleBin",
            Resource: snapshots,
        },
        tagOwnKeysStatement("MarkRestored", s, [RESTORED_AT_TAG_KEY]),
        {
            Sid: "RemoveCleanupTags",
            Effect: "Allow",
            Action: "ec2:DeleteTags",
            Resource: [images, snapshots],
            // ForAllValues alone also passes a DeleteTags without tags, which deletes every tag: Null refuses it.
            Condition: {
                "ForAllValues:StringEquals": { "aws:TagKeys": [...CLEANUP_TAG_KEYS, RESTORED_AT_TAG_KEY] },
                Null: { "aws:TagKeys": "false" },
            },
        },
    );
}

/**
 * The state machine on itself: list its running executions (the overlap check) and start the next page's
 * execution. Attached after the machine exists, because the machine's ARN is not known before.
 */
export function stateMachineSelfPolicy(machineArn: string): PolicyDocument {
    return doc(
        { Sid: "CheckOverlap", Effect: "Allow", Action: "states:ListExecutions", Resource: machineArn },
        { Sid: "ContinueAsNew", Effect: "Allow", Action: "states:StartExecution", Resource: machineArn },
    );
}

/**
 * Invoke exactly the cleanup functions. Step Functions' log delivery uses CloudWatch Logs' vended-log APIs, which
 * have no resource-level permissions: AWS documents `*` for them.
 */
export function stateMachinePolicy(functionArns: string[]): PolicyDocument {
    return doc(
        {
            Sid: "InvokeCleanupFunctions",
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: [...functionArns],
        },
        {
            Sid: "DeliverExecutionLogs",
            Effect: "Allow",
            Action: [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            Resource: "*",
        },
    );
}

/** The schedule may start exactly this state machine. */
export function schedulerPolicy(stateMachineArn: string): PolicyDocument {
    return doc({
        Sid: "StartCleanup",
        Effect: "Allow",
        Action: "states:StartExecution",
        Resource: stateMachineArn,
    });
}

/** Exactly what emptying one repository takes, on that repository only. */
export function emptyRepositoryPolicy(
    repositoryArn: Statement["Resource"],
    logStreams: Statement["Resource"],
): PolicyDocument {
    return doc(logWriteStatement(logStreams), {
        Sid: "EmptyRepository",
        Effect: "Allow",
        Action: ["ecr:ListImages", "ecr:BatchDeleteImage"],
        Resource: repositoryArn,
    });
}

/** EventBridge may publish to the alert topic, for this rule only. */
export function alertTopicPolicy(topicArn: string, ruleArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "PublishCleanupAlerts",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sns:Publish",
                Resource: topicArn,
                Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
            },
        ],
    };
}

/** The execution endings that need a person: everything but success. */
export const ALERT_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"];

export function executionAlertPattern(stateMachineArn: string): Record<string, unknown> {
    return {
        source: ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        detail: { status: ALERT_STATUSES, stateMachineArn: [stateMachineArn] },
    };
}
