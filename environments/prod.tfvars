# Production: directSend with queue fallback, FIFO ordering, no introspection.
name            = "prod"
account_id      = "333333333333"
region          = "us-east-1"
assume_role_arn = "arn:aws:iam::333333333333:role/llm-stream-deploy"
tags = {
  Team       = "platform"
  CostCenter = "genai-prod"
}

state = {
  backend    = "s3"
  bucket     = "llm-stream-tfstate-333333333333"
  key_prefix = "llm-stream"
  region     = "us-east-1"
}

models = {
  default_model_id  = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  allowed_model_ids = ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"]
}

direct_send       = true
fallback_to_queue = true

batching = {
  max_delay_ms = 250
  max_chars    = 400
}

queue = {
  fifo                       = true
  max_receive_count          = 5
  visibility_timeout_seconds = 720
  relay_retry_seconds        = 900
}

lambda = {
  memory_mb            = 1024
  timeout_seconds      = 120
  reserved_concurrency = 100
  log_retention_days   = 90
}

limits = {
  max_concurrent_generations_per_user = 3
  daily_output_tokens_per_user        = 200000
}

# sync: every chunk is screened before a user sees it.
guardrail = {
  id                     = "prdgrd8g9h0i1"
  version                = "3"
  stream_processing_mode = "sync"
}

# Per IP address: offices behind one NAT address share it.
waf = {
  rate_limit_per_5_minutes = 2000
}

appsync = {
  xray            = true
  field_log_level = "ERROR"
  introspection   = false
}

history = {
  enabled  = true
  ttl_days = 90
}

alarms = {
  sns_topic_arn = "arn:aws:sns:us-east-1:333333333333:platform-oncall"
}
