/**
 * The one IAM identity of the local stack. The handlers sign publishResponse with it and the gateway accepts only it;
 * dynalite and fauxqs accept any well-formed signature, so their clients use it too. Not a secret.
 */
export const LOCAL_CREDENTIALS: Readonly<{ accessKeyId: string; secretAccessKey: string }> = {
  accessKeyId: "AKIDLOCALSTACK",
  secretAccessKey: "local-stack-secret-not-a-real-key",
};
