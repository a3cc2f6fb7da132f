using Microsoft.AspNetCore.Http.HttpResults;

namespace OrleansCompute.Api.Errors;

/// <summary>The problem answers endpoints return as values (the exception handler covers the rest).</summary>
public static class Problems
{
    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid request", type: ProblemTypes.Validation);

    public static ValidationProblem Invalid(string field, string message) => Invalid(new() { [field] = [message] });

    public static ProblemHttpResult TableNotFound(string table) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        type: ProblemTypes.NotFound,
        title: "Table not found",
        detail: $"There is no table '{table}'.");
}
