module Main exposing (main)

{-| The BuildAmp example app: a form that triggers the `SendGridEmail` webhook through the
generated, typed `BuildAmp.Webhooks` module, then follows its execution until it is delivered
(or dead-lettered).
-}

import Browser
import BuildAmp.Webhooks as Webhooks exposing (Execution, WebhookStatus(..))
import Html exposing (Html, button, div, h1, input, label, p, text, textarea)
import Html.Attributes exposing (disabled, placeholder, value)
import Html.Events exposing (onClick, onInput)
import Http
import Time


type alias Model =
    { to : String
    , subject : String
    , body : String
    , execution : Maybe Execution
    , error : Maybe String
    }


type Msg
    = SetTo String
    | SetSubject String
    | SetBody String
    | Send
    | Triggered (Result Webhooks.Error Execution)
    | Tick Time.Posix


main : Program () Model Msg
main =
    Browser.element
        { init = \_ -> ( { to = "", subject = "Hello from BuildAmp", body = "", execution = Nothing, error = Nothing }, Cmd.none )
        , update = update
        , view = view
        , subscriptions = subscriptions
        }


{-| The example server lets requests carrying this header trigger webhooks; a real app sends its
session's credentials instead.
-}
config : Webhooks.Config
config =
    { baseUrl = "", headers = [ Http.header "X-Demo-Session" "demo" ] }


payload : Model -> Webhooks.SendGridEmailPayload
payload model =
    { personalizations = [ { to = [ { email = model.to, name = Nothing } ], cc = [], bcc = [], subject = Nothing, dynamicTemplateData = Nothing } ]
    , from = { email = "app@example.com", name = Just "BuildAmp example" }
    , replyTo = Nothing
    , subject = Just model.subject
    , content = [ { mimeType = "text/plain", value = model.body } ]
    , templateId = Nothing
    , categories = [ "example" ]
    }


update : Msg -> Model -> ( Model, Cmd Msg )
update msg model =
    case msg of
        SetTo to ->
            ( { model | to = to }, Cmd.none )

        SetSubject subject ->
            ( { model | subject = subject }, Cmd.none )

        SetBody body ->
            ( { model | body = body }, Cmd.none )

        Send ->
            ( { model | error = Nothing }, Webhooks.triggerSendGridEmailWith config (payload model) Triggered )

        Triggered (Ok execution) ->
            ( { model | execution = Just execution }, Cmd.none )

        Triggered (Err error) ->
            ( { model | error = Just (describe error) }, Cmd.none )

        Tick _ ->
            case model.execution of
                Just execution ->
                    ( model, Webhooks.getExecutionWith config execution.id Triggered )

                Nothing ->
                    ( model, Cmd.none )


subscriptions : Model -> Sub Msg
subscriptions model =
    case Maybe.map .status model.execution of
        Just (Sent _) ->
            Sub.none

        Just (DeadLetter _) ->
            Sub.none

        Just _ ->
            Time.every 1000 Tick

        Nothing ->
            Sub.none


describe : Webhooks.Error -> String
describe error =
    case error of
        Webhooks.BadStatus code message ->
            String.fromInt code ++ ": " ++ message

        Webhooks.BadBody message ->
            "unexpected answer: " ++ message

        Webhooks.BadUrl url ->
            "bad URL: " ++ url

        Webhooks.Timeout ->
            "the server did not answer in time"

        Webhooks.NetworkError ->
            "the server cannot be reached"


status : WebhookStatus -> String
status webhookStatus =
    case webhookStatus of
        Pending ->
            "queued"

        Sending ->
            "sending"

        Sent response ->
            "delivered (" ++ String.fromInt response.status ++ ")"

        Failed error attempts ->
            "attempt " ++ String.fromInt attempts ++ " failed: " ++ error ++ "; retrying"

        DeadLetter reason ->
            "gave up: " ++ reason


view : Model -> Html Msg
view model =
    div []
        [ h1 [] [ text "BuildAmp example" ]
        , label [] [ text "To ", input [ value model.to, onInput SetTo, placeholder "someone@example.com" ] [] ]
        , label [] [ text "Subject ", input [ value model.subject, onInput SetSubject ] [] ]
        , textarea [ value model.body, onInput SetBody, placeholder "Message" ] []
        , button [ onClick Send, disabled (String.isEmpty model.to) ] [ text "Send" ]
        , p [] [ text (Maybe.withDefault "" model.error) ]
        , p [] [ text (Maybe.withDefault "" (Maybe.map (.status >> status) model.execution)) ]
        ]
