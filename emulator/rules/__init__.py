"""SageMaker's rules for requests: botocore's model and the documented service rules.

Below the HTTP edge and the simulator, both of which check requests through them."""
