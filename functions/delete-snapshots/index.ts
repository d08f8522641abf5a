// Lambda entry: deletes what is left of one batch's EBS snapshots.
import { EC2Client } from "@aws-sdk/client-ec2";
import { deleteSnapshotsBatchHandler } from "../core/ami/tasks";
import { ec2ClientConfig } from "../core/shared/clients";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deleteSnapshotsBatchHandler(ec2);
