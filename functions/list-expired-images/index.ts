// Lambda entry: lists the account's expired AMIs and answers with the next page of Map batches.
import { EC2Client } from "@aws-sdk/client-ec2";
import { listExpiredImagesHandler } from "../core/ami/tasks";
import { ec2ClientConfig } from "../core/shared/clients";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = listExpiredImagesHandler(ec2);
