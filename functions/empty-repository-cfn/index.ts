// Lambda entry for the CloudFormation custom resource that empties an ECR repository when the stack deletes it.
// `export =` keeps the bundle free of ES-module glue: the inline template's code must stay under 4096 bytes.
import { ECR } from "@aws-sdk/client-ecr";
import { type CfnEvent, handleCfnEvent } from "../core/ecr/customResource";
import { consoleLog } from "../core/shared/log";

const ecr = new ECR({});
export = { handler: (event: CfnEvent) => handleCfnEvent(ecr, event, { log: consoleLog }) };
