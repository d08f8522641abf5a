// The original design, expressed as ASL, for the benchmark to compare against: full DescribeImages records as
// Map items, one AMI per iteration, MaxConcurrency 1. Its handlers keep its shape and fix only its crashes.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    type EC2Client,
    type Image,
    paginateDescribeImages,
} from "@aws-sdk/client-ec2";
import type { AslDefinition } from "../components/definition";
import { isExpired } from "../functions/core/ami/age";
import type { TaskHandler } from "../runner/engine";
import { LOCAL_FUNCTION_ARNS } from "../runner/run";

export function buildOriginalDefinition(validHours: number): AslDefinition {
    return {
        Comment: "The original design: list, then a Map over full image records, one AMI at a time",
        StartAt: "ListExpiredImagesState",
        States: {
            ListExpiredImagesState: {
                Type: "Task",
                Resource: LOCAL_FUNCTION_ARNS.list,
                Parameters: { valid_hours: validHours },
                ResultPath: "$.images",
                Next: "DeleteImageMapState",
            },
            DeleteImageMapState: {
                Type: "Map",
                MaxConcurrency: 1,
                InputPath: "$.images",
                ItemSelector: { "describe-image.$": "$$.Map.Item.Value" },
                ItemProcessor: {
                    ProcessorConfig: { Mode: "INLINE" },
                    StartAt: "DeleteImageState",
                    States: {
                        DeleteImageState: {
                            Type: "Task",
                            Resource: LOCAL_FUNCTION_ARNS.deregister,
                            InputPath: "$.describe-image",
                            ResultPath: "$.delete-image",
                            Next: "DeleteSnapshotState",
                        },
                        DeleteSnapshotState: {
                            Type: "Task",
                            Resource: LOCAL_FUNCTION_ARNS.snapshots,
                            InputPath: "$.describe-image",
                            ResultPath: "$.delete-snapshots",
                            End: true,
                        },
                    },
                },
                End: true,
            },
        },
    };
}

/** The original three functions: every page read (its bug was reading one), whole days counted (its bug was not). */
export function originalHandlers(ec2: EC2Client, validHours: number, now: Date): Record<string, TaskHandler> {
    return {
        ListExpiredImagesState: async () => {
            const images: Image[] = [];
            for await (const page of paginateDescribeImages({ client: ec2 }, { Owners: ["self"] })) {
                for (const image of page.Images ?? []) {
                    if (isExpired(image.CreationDate ?? "", validHours, now)) images.push(image);
                }
            }
            // What a Lambda returns is JSON: the full records, as the state machine would carry them.
            return JSON.parse(JSON.stringify(images));
        },
        DeleteImageState: async (input) => {
            const image = input as Image;
            await ec2.send(new DeregisterImageCommand({ ImageId: image.ImageId }));
            return {};
        },
        DeleteSnapshotState: async (input) => {
            const image = input as Image;
            for (const m of image.BlockDeviceMappings ?? []) {
                if (m.Ebs?.SnapshotId)
                    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: m.Ebs.SnapshotId }));
            }
            return {};
        },
    };
}
