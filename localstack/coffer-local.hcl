# coffer server against the local AWS (moto or LocalStack): the endpoint, region and test
# credentials come from the environment that start-emulator.sh prints (AWS_ENDPOINT_URL for
# DynamoDB, AWS_KMS_ENDPOINT for the seal).
#
#   eval "$(localstack/start-emulator.sh)" && cargo run --bin coffer -- server -config=localstack/coffer-local.hcl
storage "dynamodb" {
  table = "coffer"
}
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
seal "awskms" {
  kms_key_id = "alias/coffer-seal"
}
