// Lambda entry: deletes what is left of one batch's EBS snapshots.
import { EC2Client } from "@aws-sdk/client-ec2";
import { deleteSnapshotsBatchHandler } from "../core/ami/tasks";
import { ec2ClientConfig } from "../core/shared/clients";
import { createPacer, paced } from "../core/shared/pacing";

// One pacer per container, kept across invocations as EC2's buckets keep their level.
const pacer = createPacer();
const ec2 = paced(new EC2Client(ec2ClientConfig), pacer);
export const handler = deleteSnapshotsBatchHandler(ec2, { pacer });
