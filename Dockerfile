FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY workflows ./workflows
COPY schemas ./schemas
COPY workers ./workers
COPY migrations ./migrations
RUN uv sync --frozen --no-dev
ENV PATH=/opt/venv/bin:$PATH
EXPOSE 9464
CMD ["prepay", "serve"]
