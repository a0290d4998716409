"""Infers through the stock Triton HTTP client (tritonclient[http]) against a
running batuta: `python3 triton_infer.py HOST:PORT MODEL`. Prints one JSON line
with the server's readiness, the model's metadata and the probabilities."""
import json
import sys

import numpy as np
import tritonclient.http as httpclient

url, model = sys.argv[1], sys.argv[2]
client = httpclient.InferenceServerClient(url=url)
x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
inp = httpclient.InferInput("x", list(x.shape), "FP32")
inp.set_data_from_numpy(x, binary_data=False)
out = httpclient.InferRequestedOutput("probabilities", binary_data=False)
result = client.infer(model, [inp], outputs=[out], request_id="t1")
probs = result.as_numpy("probabilities")
print(json.dumps({
    "live": client.is_server_live(),
    "ready": client.is_server_ready(),
    "model_ready": client.is_model_ready(model),
    "inputs": client.get_model_metadata(model)["inputs"],
    "shape": list(probs.shape),
    "row_sums": [float(s) for s in probs.sum(axis=1)],
    "id": result.get_response()["id"],
}))
